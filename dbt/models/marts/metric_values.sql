{#-
    The published contract (METRICS.md): one row per metric, month and org unit, for every metric of
    the five levels, every month of int_metric_periods and every org unit of int_org_units
    (active_departments for 'ALL' only).

    - Metrics without an item in a month still get their row: a count is 0, a ratio NULL over 0 / 0,
      a median NULL over 0 items.
    - Suppression: a department row whose registered_users < min_group_size in that month has value,
      numerator and denominator NULL and suppressed = true, for every metric; 'ALL' never is.
-#}
with

intranet_facts as (

    select * from {{ ref('int_intranet_metric_facts') }}

),

registered_users as (

    select
        period_start,
        org_unit,
        value as registered_users

    from intranet_facts
    where metric_key = 'registered_users'

),

flagged as (

    select
        intranet_facts.*,
        intranet_facts.org_unit != 'ALL'
        and coalesce(registered_users.registered_users, 0) < {{ min_group_size() }} as suppressed

    from intranet_facts
    left join registered_users
        on
            intranet_facts.period_start = registered_users.period_start
            and intranet_facts.org_unit = registered_users.org_unit

),

final as (

    select
        metric_key::text as metric_key,
        level::smallint as level,
        'month'::text as period_grain,
        period_start::date as period_start,
        org_unit::text as org_unit,
        case when suppressed then null else value end::numeric as value,
        case when suppressed then null else numerator end::numeric as numerator,
        case when suppressed then null else denominator end::numeric as denominator,
        suppressed

    from flagged

)

select * from final
