{#-
    Which department rows metric_values hides each month, and why (the rule is in the model docs).
-#}
with

intranet_facts as (

    select * from {{ ref('int_intranet_metric_facts') }}

),

periods as (

    select * from {{ ref('int_metric_periods') }}

),

org_units as (

    select * from {{ ref('int_org_units') }}

),

registered as (

    select
        period_start,
        org_unit,
        value as registered_users

    from intranet_facts
    where metric_key = 'registered_users'

),

departments as (

    select
        periods.period_start,
        org_units.org_unit,
        coalesce(registered.registered_users, 0) as registered_users,
        coalesce(registered.registered_users, 0) < {{ min_group_size() }} as is_small_group

    from periods
    cross join org_units
    left join registered
        on
            periods.period_start = registered.period_start
            and org_units.org_unit = registered.org_unit
    where org_units.org_unit != 'ALL'

),

-- 'ALL' minus every visible department: the small departments plus the people without one.
hidden_groups as (

    select
        departments.period_start,
        bool_or(departments.is_small_group) as has_small_group,
        coalesce(max(organisation.registered_users), 0) - coalesce(
            sum(departments.registered_users) filter (where not departments.is_small_group), 0
        ) as hidden_registered_users

    from departments
    left join registered as organisation
        on
            departments.period_start = organisation.period_start
            and organisation.org_unit = 'ALL'
    group by departments.period_start

),

-- One visible department is enough: it holds at least min_group_size people itself.
complements as (

    select distinct on (departments.period_start)
        departments.period_start,
        departments.org_unit

    from departments
    inner join hidden_groups
        on departments.period_start = hidden_groups.period_start
    where
        hidden_groups.has_small_group
        and hidden_groups.hidden_registered_users < {{ min_group_size() }}
        and not departments.is_small_group
    order by
        departments.period_start asc,
        departments.registered_users asc,
        departments.org_unit asc

),

final as (

    select
        departments.period_start,
        departments.org_unit,
        departments.registered_users,
        departments.is_small_group or complements.org_unit is not null as is_suppressed,
        case
            when departments.is_small_group then 'small_group'
            when complements.org_unit is not null then 'complement'
        end as suppression_reason

    from departments
    left join complements
        on
            departments.period_start = complements.period_start
            and departments.org_unit = complements.org_unit

)

select * from final
