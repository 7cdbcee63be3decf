{#-
    View and download events (and any other type) with their UTC day typed and indexed, so that
    int_activity_days and int_event_months find a day's or a person's events through an index
    instead of parsing every occurred_at of history (the events view parses the text on each
    read: 11 s of an incremental build at L went to that alone).

    Incremental (docs/incremental-builds.md): a run takes the events loaded after the newest
    load_id here and replaces them by event_id (delete+insert), so an event a later load changed
    (a new time, type or person) has one row, the newest. Raw rows leave only through erasure,
    which rebuilds with --full-refresh.
-#}
{{ config(
    materialized='incremental',
    unique_key='event_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    meta={'analyze': 'when_stale'},
    indexes=[
        {'columns': ['event_id']}, {'columns': ['activity_date']}, {'columns': ['person_key']},
        {'columns': ['load_id']},
    ],
) }}

with

events as (

    select * from {{ ref('stg_activity_events__events') }}

),

final as (

    select
        event_id,
        occurred_at,
        (occurred_at at time zone 'UTC')::date as activity_date,
        person_key,
        event_type,
        load_id

    from events
    where {{ is_newer_than_built('load_id') }}

)

select * from final
