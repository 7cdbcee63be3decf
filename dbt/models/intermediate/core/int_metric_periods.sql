{#-
    The months metric_values covers: every calendar month (UTC) from the first to the last month
    holding an event — a message (any message, human or not), an activity day (a Graph report row,
    a Slack reaction) or an activity event of any type, and the CRM and survey events of
    int_business_event_months (a closed opportunity's CloseDate, a stage change, a project end,
    a survey response).
-#}
with

messages as (

    select * from {{ ref('int_messages') }}

),

activity_days as (

    select * from {{ ref('int_activity_days') }}

),

events as (

    select * from {{ ref('stg_activity_events__events') }}

),

event_months as (

    select date_trunc('month', created_at at time zone 'UTC')::date as period_start
    from messages

    union all

    select date_trunc('month', activity_date)::date
    from activity_days

    union all

    select date_trunc('month', occurred_at at time zone 'UTC')::date
    from events

),

bounds as (

    select
        min(period_start) as first_month,
        max(period_start) as last_month

    from event_months

),

final as (

    select generate_series(first_month, last_month, interval '1 month')::date as period_start
    from bounds
    where first_month is not null

)

select * from final
