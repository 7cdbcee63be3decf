{#-
    The published contract (METRICS.md): one row per metric, month and org unit, for every metric of
    the five levels, every month of int_metric_periods and every org unit of int_org_units
    (active_departments for 'ALL' only).

    - Intranet metrics come dense from int_intranet_metric_facts; CRM and survey metrics come from
      int_business_metric_facts only where they have items, and are filled in here: a count is 0, a
      ratio or nps NULL over 0 / 0, a median NULL over 0 items.
    - Suppression: the department rows int_suppressed_units hides (fewer registered users than
      min_group_size, or the complement that keeps 'ALL' minus the visible departments from
      revealing them) have value, numerator and denominator NULL and suppressed = true, for every
      metric, CRM and survey ones too; 'ALL' is never suppressed.
    - Not measured: a metric none of whose sources has landed a row (int_metric_coverage) has
      value, numerator and denominator NULL (not 0) in every row; suppressed stays as above.
    - Months are int_metric_periods' (from the reporting_start var on, when set): the incremental
      intranet facts may still hold months before it.
-#}
{%- set business_metrics = [
    ('opportunities_closed', 'count'), ('opportunities_won', 'count'), ('win_rate', 'ratio'),
    ('win_rate_social', 'ratio'), ('win_rate_other', 'ratio'), ('median_days_to_quote', 'median'),
    ('delivery_margin', 'ratio'), ('delivery_margin_social', 'ratio'),
    ('delivery_margin_other', 'ratio'), ('survey_responses', 'count'), ('csat', 'ratio'),
    ('nps', 'nps'),
] %}
with

intranet_facts as (

    select * from {{ ref('int_intranet_metric_facts') }}

),

business_facts as (

    select * from {{ ref('int_business_metric_facts') }}

),

periods as (

    select * from {{ ref('int_metric_periods') }}

),

org_units as (

    select * from {{ ref('int_org_units') }}

),

suppressed_units as (

    select * from {{ ref('int_suppressed_units') }}

),

metric_coverage as (

    select * from {{ ref('int_metric_coverage') }}

),

reported_intranet_facts as (

    select intranet_facts.*

    from intranet_facts
    inner join periods
        on intranet_facts.period_start = periods.period_start

),

business_metrics as (

    select
        metric_key,
        metric_kind

    from (
        values
        {% for metric_key, metric_kind in business_metrics -%}
            ('{{ metric_key }}', '{{ metric_kind }}'){{ "," if not loop.last }}
        {% endfor %}
    ) as metric_list (metric_key, metric_kind)

),

business_filled as (

    select
        business_metrics.metric_key,
        5 as level,
        business_metrics.metric_kind,
        periods.period_start,
        org_units.org_unit,
        case
            when business_facts.metric_key is not null then business_facts.value
            when business_metrics.metric_kind = 'count' then 0
        end as value,
        case
            when business_metrics.metric_kind in ('ratio', 'nps')
                then coalesce(business_facts.numerator, 0)
        end as numerator,
        case
            when business_metrics.metric_kind != 'count'
                then coalesce(business_facts.denominator, 0)
        end as denominator

    from business_metrics
    cross join periods
    cross join org_units
    left join business_facts
        on
            business_metrics.metric_key = business_facts.metric_key
            and periods.period_start = business_facts.period_start
            and org_units.org_unit = business_facts.org_unit

),

all_facts as (

    select
        metric_key,
        level,
        period_start,
        org_unit,
        value,
        numerator,
        denominator

    from reported_intranet_facts

    union all

    select
        metric_key,
        level,
        period_start,
        org_unit,
        value,
        numerator,
        denominator

    from business_filled

),

flagged as (

    select
        all_facts.*,
        coalesce(suppressed_units.is_suppressed, false) as suppressed,
        coalesce(metric_coverage.is_measured, true) as is_measured

    from all_facts
    left join suppressed_units
        on
            all_facts.period_start = suppressed_units.period_start
            and all_facts.org_unit = suppressed_units.org_unit
    left join metric_coverage
        on all_facts.metric_key = metric_coverage.metric_key

),

final as (

    select
        metric_key::text as metric_key,
        level::smallint as level,
        'month'::text as period_grain,
        period_start::date as period_start,
        org_unit::text as org_unit,
        case when suppressed or not is_measured then null else value end::numeric as value,
        case when suppressed or not is_measured then null else numerator end::numeric as numerator,
        case when suppressed or not is_measured then null else denominator end::numeric as denominator,
        suppressed

    from flagged

)

select * from final
