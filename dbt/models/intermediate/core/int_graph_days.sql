{#-
    The Graph activity report's rows (likes and reads per user and day) with the day typed and
    indexed, so that int_activity_days finds a day's or a person's rows through an index instead
    of casting the refresh date of every row of history (the report has a row per user per day:
    6.4 million at L).

    Incremental (docs/incremental-builds.md): a run takes the rows loaded after the newest
    load_id here and replaces them by (activity_date, principal_key), the raw table's own key
    (refresh date, principal name) in pseudonymous form: a re-read day replaces its rows. Raw rows
    leave only through erasure, which rebuilds with --full-refresh. One difference remains: the
    key hashes the lower-cased, trimmed name, the raw key the name as sent. A user renamed only in
    case between two reads of a day has two raw rows for that day; an incremental run keeps the
    later read's, a full refresh both, and its uniqueness test on (activity_date, person_key)
    then fails the build.
-#}
{{ config(
    materialized='incremental',
    unique_key=['activity_date', 'principal_key'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    meta={'analyze': 'when_stale'},
    indexes=[
        {'columns': ['activity_date', 'principal_key']}, {'columns': ['person_key']}, {'columns': ['load_id']},
    ],
) }}

with

graph_days as (

    select * from {{ ref('stg_msgraph__yammer_user_activity_days') }}

),

final as (

    select
        activity_date,
        principal_key,
        person_key,
        is_concealed,
        like_count,
        read_count,
        load_id

    from graph_days
    where {{ is_newer_than_built('load_id') }}

)

select * from final
