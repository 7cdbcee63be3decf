{#-
    The months metric_values covers: every calendar month (UTC) from the first to the last month
    holding an event — a message (any message, human or not), an activity day (a Graph report row,
    anyone's, a Slack reaction) or an activity event of any type, and the CRM and survey events of
    int_business_event_months (a closed opportunity's CloseDate, a stage change, a project end,
    a survey response). The events' months come from int_event_months (incremental), so a run
    does not parse every event's time.

    The reporting_start var (a date, or SVW_REPORTING_START; default none) cuts the range's start:
    months before its month are not reported, so one dormant or foreign export (a 2016 Slack
    export) does not stretch metric_values back to its first event. The events stay in core; only
    the reported months change.
-#}
{%- set start_date = reporting_start() %}
{%- set reporting_month = "date_trunc('month', '" ~ start_date ~ "'::date)::date" %}
with

messages as (

    select * from {{ ref('int_messages') }}

),

activity_days as (

    select * from {{ ref('int_activity_days') }}

),

graph_days as (

    select * from {{ ref('int_graph_days') }}

),

event_months as (

    select * from {{ ref('int_event_months') }}

),

business_event_months as (

    select * from {{ ref('int_business_event_months') }}

),

-- Each source's first and last month from its min and max: the month of a UTC wall time never
-- decreases as the time does, and min/max are read from the incremental models' indexes.
source_bounds as (

    select
        date_trunc('month', min(created_at) at time zone 'UTC')::date as first_month,
        date_trunc('month', max(created_at) at time zone 'UTC')::date as last_month

    from messages

    union all

    select
        date_trunc('month', min(activity_date))::date as first_month,
        date_trunc('month', max(activity_date))::date as last_month

    from activity_days

    union all

    -- Every Graph report row, a person's or not: with Graph as the only source there are no
    -- persons (no activity days), and its days still make the months.
    select
        date_trunc('month', min(activity_date))::date as first_month,
        date_trunc('month', max(activity_date))::date as last_month

    from graph_days

    union all

    select
        min(period_start) as first_month,
        max(period_start) as last_month

    from event_months

    union all

    select
        min(period_start) as first_month,
        max(period_start) as last_month

    from business_event_months

),

bounds as (

    select
        min(first_month) as first_month,
        max(last_month) as last_month

    from source_bounds

),

final as (

    select
        generate_series(
            {{ 'greatest(first_month, ' ~ reporting_month ~ ')' if start_date else 'first_month' }},
            last_month,
            interval '1 month'
        )::date as period_start
    from bounds
    where first_month is not null

)

select * from final
