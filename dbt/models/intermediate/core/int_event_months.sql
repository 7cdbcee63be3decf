{#-
    The months (UTC) holding an activity event of any type: what int_metric_periods needs of the
    events, kept so that a run reads only the events of new loads (int_activity_events' load_id
    index) instead of every event of history.

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

    select * from {{ ref('int_activity_events') }}

),

final as (

    select
        date_trunc('month', activity_date)::date as period_start,
        max(load_id) as load_id

    from events
    where
        activity_date is not null
        and {{ is_newer_than_built('load_id') }}
    group by 1

)

select * from final
