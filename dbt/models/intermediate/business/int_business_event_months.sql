{#-
    Months holding a CRM or survey event (METRICS.md's month range): a closed opportunity's
    CloseDate, a stage change, a project's end, a survey response's creation (completed or not).
    Deleted opportunities, their history and their projects hold no events.
-#}
with

opportunities as (

    select * from {{ ref('int_opportunities') }}

),

opportunity_history as (

    select * from {{ ref('int_opportunity_history') }}

),

delivery_projects as (

    select * from {{ ref('int_delivery_projects') }}

),

survey_responses as (

    select * from {{ ref('int_survey_responses') }}

),

event_days as (

    select close_date as event_date
    from opportunities
    where is_closed

    union all

    select opportunity_history.created_date as event_date
    from opportunity_history
    inner join opportunities
        on opportunity_history.opportunity_id = opportunities.opportunity_id
    where not opportunity_history.is_deleted

    union all

    select end_date as event_date
    from delivery_projects
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
