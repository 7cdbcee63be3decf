{#-
    The published contract (METRICS.md): one row per metric, month, org unit.

    Choices where the definition leaves one:
    - The month range runs from the first to the last month holding a human message.
    - A person without a department counts in 'ALL' only.
    - Activity so far is posts and replies; likes, reads and downloads join when their feeds land.
-#}
with

persons as (

    select * from {{ ref('int_persons') }}

),

messages as (

    select * from {{ ref('int_messages') }}

),

months as (

    select
        generate_series(
            date_trunc('month', min(created_at)),
            date_trunc('month', max(created_at)),
            interval '1 month'
        )::date as period_start

    from messages
    where is_human

),

org_units as (

    select 'ALL'::text as org_unit

    union all

    select distinct department as org_unit
    from persons
    where department is not null

),

metrics as (

    select * from (
        values
        ('registered_users', 1, 'count'),
        ('active_users', 1, 'count'),
        ('adoption_rate', 1, 'rate')
    ) as metric_list (metric_key, metric_level, metric_kind)

),

registered as (

    select
        'registered_users' as metric_key,
        months.period_start,
        persons.person_key,
        persons.department

    from months
    inner join persons
        on
            months.period_start + interval '1 month' > persons.registered_from
            and (
                persons.registered_until is null
                or months.period_start <= persons.registered_until
            )

),

active as (

    select distinct
        'active_users' as metric_key,
        date_trunc('month', created_at)::date as period_start,
        person_key,
        department

    from messages
    where is_human

),

person_metrics as (

    select * from registered
    union all
    select * from active

),

counted as (

    select
        metric_key,
        period_start,
        case when grouping(department) = 1 then 'ALL' else department end as org_unit,
        count(distinct person_key) as person_count

    from person_metrics
    group by grouping sets ((metric_key, period_start), (metric_key, period_start, department))
    having grouping(department) = 1 or department is not null

),

grid as (

    select
        metrics.metric_key,
        metrics.metric_level,
        metrics.metric_kind,
        months.period_start,
        org_units.org_unit

    from metrics
    cross join months
    cross join org_units

),

with_counts as (

    select
        grid.*,
        coalesce(own.person_count, 0) as person_count,
        coalesce(registered_users.person_count, 0) as registered_users,
        coalesce(active_users.person_count, 0) as active_users

    from grid
    left join counted as own
        on
            grid.metric_key = own.metric_key
            and grid.period_start = own.period_start
            and grid.org_unit = own.org_unit
    left join counted as registered_users
        on
            registered_users.metric_key = 'registered_users'
            and grid.period_start = registered_users.period_start
            and grid.org_unit = registered_users.org_unit
    left join counted as active_users
        on
            active_users.metric_key = 'active_users'
            and grid.period_start = active_users.period_start
            and grid.org_unit = active_users.org_unit

),

computed as (

    select
        metric_key,
        metric_level,
        period_start,
        org_unit,
        registered_users,
        case when metric_kind = 'rate' then active_users end as numerator,
        case when metric_kind = 'rate' then registered_users end as denominator,
        case
            when metric_kind = 'count' then person_count::numeric
            when registered_users > 0 then active_users::numeric / registered_users
        end as value

    from with_counts

),

flagged as (

    select
        *,
        org_unit != 'ALL' and registered_users < {{ min_group_size() }} as suppressed

    from computed

),

final as (

    select
        metric_key::text as metric_key,
        metric_level::smallint as level,
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
