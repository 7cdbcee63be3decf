{#-
    The months (UTC) holding an activity event of any type: what int_metric_periods needs of the
    events, kept so that a run parses only the events of new loads instead of every occurred_at of
    history (the events view parses each timestamp: 18 s of an incremental build at L).

    Incremental (docs/incremental-builds.md): a run adds the months of the events loaded after the
    newest load_id here (delete+insert on period_start; load_id is the newest load seen in the
    month). Months are only added between full refreshes: an event whose occurred_at a later load
    moved to another month leaves its old month here until the next `dbt build --full-refresh`
    (raw rows leave only through erasure, which rebuilds with --full-refresh).
-#}
{{ config(
    materialized='incremental',
    unique_key='period_start',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
) }}

with

events as (

    select * from {{ ref('stg_activity_events__events') }}

),

final as (

    select
        date_trunc('month', occurred_at at time zone 'UTC')::date as period_start,
        max(load_id) as load_id

    from events
    where
        occurred_at is not null
        and {{ is_newer_than_built('load_id') }}
    group by 1

)

select * from final
