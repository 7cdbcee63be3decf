{#-
    The level-5 CRM and survey metrics in long form, only where a month and org unit hold items:
    metric_values unions these rows, fills every month and org unit and suppresses small
    departments. Number conventions are METRICS.md's: counts carry no numerator or denominator,
    ratios value = numerator / denominator, medians percentile_cont(0.5) over denominator items,
    nps 100 * (promoters - detractors) / answers. Every thing counts for 'ALL' and for its
    department when its owner is a known intranet person.
-#}
with

opportunities as (

    select * from {{ ref('int_opportunities') }}

),

delivery_projects as (

    select * from {{ ref('int_delivery_projects') }}

),

survey_responses as (

    select * from {{ ref('int_survey_responses') }}

),

survey_scores as (

    select * from {{ ref('int_survey_scores') }}

),

closed_opportunities as (

    select
        date_trunc('month', close_date)::date as period_start,
        department,
        is_won,
        is_socially_supported

    from opportunities
    where is_closed and close_date is not null

),

margin_projects as (

    select
        date_trunc('month', end_date)::date as period_start,
        department,
        revenue,
        cost,
        is_socially_supported

    from delivery_projects
    where has_figures and has_ended

),

items as not materialized (

    select
        'opportunities_closed' as metric_key,
        'count' as metric_kind,
        period_start,
        department,
        null::numeric as numerator_part,
        null::numeric as denominator_part,
        null::numeric as measure

    from closed_opportunities

    union all

    select
        'opportunities_won' as metric_key,
        'count' as metric_kind,
        period_start,
        department,
        null as numerator_part,
        null as denominator_part,
        null as measure

    from closed_opportunities
    where is_won

    union all

    select
        case
            when metric_split.split = 'all' then 'win_rate'
            when metric_split.split = 'social' then 'win_rate_social'
            else 'win_rate_other'
        end as metric_key,
        'ratio' as metric_kind,
        closed_opportunities.period_start,
        closed_opportunities.department,
        case when closed_opportunities.is_won then 1 else 0 end as numerator_part,
        1 as denominator_part,
        null as measure

    from closed_opportunities
    inner join (values ('all'), ('social'), ('other')) as metric_split (split)
        on
            metric_split.split = 'all'
            or (metric_split.split = 'social') = closed_opportunities.is_socially_supported

    union all

    -- In the month the opportunity first reached the quote stage (the definition's own period),
    -- not its creation month.
    select
        'median_days_to_quote' as metric_key,
        'median' as metric_kind,
        date_trunc('month', first_quote_at at time zone 'UTC')::date as period_start,
        department,
        null as numerator_part,
        null as denominator_part,
        days_to_quote as measure

    from opportunities
    where first_quote_at is not null

    union all

    select
        case
            when metric_split.split = 'all' then 'delivery_margin'
            when metric_split.split = 'social' then 'delivery_margin_social'
            else 'delivery_margin_other'
        end as metric_key,
        'ratio' as metric_kind,
        margin_projects.period_start,
        margin_projects.department,
        margin_projects.revenue - margin_projects.cost as numerator_part,
        margin_projects.revenue as denominator_part,
        null as measure

    from margin_projects
    inner join (values ('all'), ('social'), ('other')) as metric_split (split)
        on
            metric_split.split = 'all'
            or (metric_split.split = 'social') = margin_projects.is_socially_supported

    union all

    select
        'survey_responses' as metric_key,
        'count' as metric_kind,
        date_trunc('month', created_at at time zone 'UTC')::date as period_start,
        department,
        null as numerator_part,
        null as denominator_part,
        null as measure

    from survey_responses
    where is_completed

    union all

    select
        metric_key,
        case when metric_key = 'nps' then 'nps' else 'ratio' end as metric_kind,
        period_start,
        department,
        numerator_part,
        1 as denominator_part,
        null as measure

    from survey_scores

),

-- Counts and sums are added up per department first (a few hundred rows), then over the
-- grouping sets; only the median items (the opportunities quoted) go through percentile_cont,
-- which sorts its input. One aggregate over all items sorted every survey answer too (1.2
-- million rows at L, spilled to disk; the model took 3.8 s, now 2.2 s). items is not materialized: each
-- aggregate reads its own arms of the union (the medians only the quoted opportunities).
department_sums as (

    select
        metric_key,
        metric_kind,
        period_start,
        department,
        count(*) as item_count,
        sum(numerator_part) as numerator_sum,
        sum(denominator_part) as denominator_sum

    from items
    where metric_kind != 'median'
    group by metric_key, metric_kind, period_start, department

),

summed as (

    select
        metric_key,
        metric_kind,
        period_start,
        case when grouping(department) = 1 then 'ALL' else department end as org_unit,
        sum(item_count)::bigint as item_count,
        sum(numerator_sum) as numerator_sum,
        sum(denominator_sum) as denominator_sum,
        null::double precision as median_measure

    from department_sums
    group by
        grouping sets (
            (metric_key, metric_kind, period_start),
            (metric_key, metric_kind, period_start, department)
        )
    having grouping(department) = 1 or department is not null

),

medians as (

    select
        metric_key,
        metric_kind,
        period_start,
        case when grouping(department) = 1 then 'ALL' else department end as org_unit,
        count(*) as item_count,
        null::numeric as numerator_sum,
        null::numeric as denominator_sum,
        percentile_cont(0.5) within group (order by measure) as median_measure

    from items
    where metric_kind = 'median'
    group by
        grouping sets (
            (metric_key, metric_kind, period_start),
            (metric_key, metric_kind, period_start, department)
        )
    having grouping(department) = 1 or department is not null

),

aggregated as (

    select * from summed
    union all
    select * from medians

),

final as (

    select
        metric_key::text as metric_key,
        5::smallint as level,
        metric_kind::text as metric_kind,
        period_start::date as period_start,
        org_unit::text as org_unit,
        -- trim_scale: 0.5, not 0.50000000000000000000 (numeric division pads to 20 digits).
        trim_scale(case
            when metric_kind = 'count' then item_count
            when metric_kind = 'ratio' then numerator_sum / nullif(denominator_sum, 0)
            when metric_kind = 'median' then median_measure::numeric
            when metric_kind = 'nps' then 100 * numerator_sum / nullif(denominator_sum, 0)
        end::numeric) as value,
        case when metric_kind in ('ratio', 'nps') then numerator_sum end::numeric as numerator,
        case
            when metric_kind in ('ratio', 'nps') then denominator_sum
            when metric_kind = 'median' then item_count
        end::numeric as denominator

    from aggregated

)

select * from final
