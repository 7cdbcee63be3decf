{#-
    The article's customer-satisfaction widget: csat and nps per month for the organisation and
    per account, against the norms seed. The months run from the first to the last month holding
    a CRM or survey event; the organisation has a row for each, an account for each once it has
    ever had a survey response. A month without answers has value NULL, 0 / 0 and no status.

    Merge joins are off for this model's transaction (`set local`): the planner takes the grid
    of months × accounts × metrics for 10 million rows (a series of months is guessed at 1,000)
    and sorts both sides for a merge join, where a hash join on the 117,500 aggregated rows is
    twice as fast (at L, 2.4 → 1.1 s alone).
-#}
{{ config(pre_hook="set local enable_mergejoin = off") }}
with

survey_scores as (

    select * from {{ ref('int_survey_scores') }}

),

survey_responses as (

    select * from {{ ref('int_survey_responses') }}

),

event_months as (

    select * from {{ ref('int_business_event_months') }}

),

norms as (

    select * from {{ ref('satisfaction_norms') }}

),

months as (

    select
        generate_series(min(period_start), max(period_start), interval '1 month')::date
            as period_start

    from event_months

),

scopes as (

    select
        'org' as scope,
        null as account_id

    union all

    select distinct
        'account' as scope,
        account_id

    from survey_responses
    where account_id is not null

),

grid as (

    select
        months.period_start,
        scopes.scope,
        scopes.account_id,
        norms.metric_key,
        norms.norm,
        norms.amber_tolerance

    from months
    cross join scopes
    cross join norms

),

aggregated as (

    select
        period_start,
        metric_key,
        case when grouping(account_id) = 1 then 'org' else 'account' end as scope,
        account_id,
        sum(numerator_part)::numeric as numerator,
        count(*)::numeric as denominator

    from survey_scores
    group by grouping sets ((period_start, metric_key), (period_start, metric_key, account_id))
    having grouping(account_id) = 1 or account_id is not null

),

measured as (

    select
        grid.period_start,
        grid.scope,
        grid.account_id,
        grid.metric_key,
        grid.norm,
        grid.amber_tolerance,
        coalesce(aggregated.numerator, 0) as numerator,
        coalesce(aggregated.denominator, 0) as denominator,
        -- The same arithmetic as int_business_metric_facts, so 'org' equals its 'ALL' rows.
        case
            when grid.metric_key = 'nps'
                then 100 * aggregated.numerator / nullif(aggregated.denominator, 0)
            else aggregated.numerator / nullif(aggregated.denominator, 0)
        end as value

    from grid
    left join aggregated
        on
            grid.period_start = aggregated.period_start
            and grid.metric_key = aggregated.metric_key
            and grid.scope = aggregated.scope
            -- Equality, not `is not distinct from` (which no hash or merge join can use: a
            -- nested loop over every grid row took 145 s at L). '' is never a Salesforce Id.
            and coalesce(grid.account_id, '') = coalesce(aggregated.account_id, '')

),

final as (

    select
        period_start::date as period_start,
        scope::text as scope,
        account_id::text as account_id,
        metric_key::text as metric_key,
        -- trim_scale: 0.5, not 0.50000000000000000000 (numeric division pads to 20 digits).
        trim_scale(value::numeric) as value,
        numerator::numeric as numerator,
        denominator::numeric as denominator,
        norm::numeric as norm,
        amber_tolerance::numeric as amber_tolerance,
        case
            when value is null then null
            when value >= norm then 'green'
            when value >= norm - amber_tolerance then 'amber'
            else 'red'
        end::text as status

    from measured

)

select * from final
