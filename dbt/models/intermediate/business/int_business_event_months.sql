{#-
    Months holding a CRM or survey event (METRICS.md's month range): a closed opportunity's
    CloseDate, a stage change, a project's end, a survey response's creation (completed or not).
    Deleted opportunities, their history and their projects hold no events.

    Read from the typed CRM and survey models, not from int_opportunities and
    int_delivery_projects: which months hold an event does not depend on an opportunity's owner or
    social support, so the month range of every metric (int_metric_periods) is known before the
    message references are.
-#}
with

opportunities as (

    select * from {{ ref('int_salesforce_opportunities') }}

),

opportunity_history as (

    select * from {{ ref('int_opportunity_history') }}

),

projects as (

    select * from {{ ref('int_salesforce_projects') }}

),

survey_responses as (

    select * from {{ ref('int_survey_response_fields') }}

),

event_days as (

    select close_date as event_date
    from opportunities
    where is_closed and not is_deleted

    union all

    select opportunity_history.created_date as event_date
    from opportunity_history
    inner join opportunities
        on opportunity_history.opportunity_id = opportunities.opportunity_id
    where not opportunity_history.is_deleted and not opportunities.is_deleted

    union all

    select end_date as event_date
    from projects
    where has_ended

    union all

    select (created_at at time zone 'UTC')::date as event_date
    from survey_responses

),

final as (

    select distinct date_trunc('month', event_date)::date as period_start

    from event_days
    where event_date is not null

)

select * from final
