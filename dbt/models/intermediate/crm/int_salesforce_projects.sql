{#-
    Delivery projects that are not deleted, linked to the opportunity they deliver, with whether
    they have ended. The lookup is matched on the Id's first 15 characters, so a lookup field
    holding the 15-character form still finds its opportunity. A project has ended once its end
    date is on or before the CRM's as-of date (its latest SystemModstamp): the date the data speaks
    for, which stays the same when the same data is rebuilt on a later day.

    Apart from int_delivery_projects (which adds the opportunity's owner and social support) so
    that int_business_event_months, and the month range of every metric, need not wait for the
    message references behind social support.
-#}
with

projects as (

    select * from {{ ref('stg_salesforce__projects') }}

),

salesforce_opportunities as (

    select * from {{ ref('int_salesforce_opportunities') }}

),

modifications as (

    select system_modified_at as modified_at
    from salesforce_opportunities

    union all

    select modified_at
    from projects

),

crm_as_of as (

    select (max(modified_at) at time zone 'UTC')::date as as_of_date

    from modifications

),

linked as (

    select
        projects.project_id,
        salesforce_opportunities.opportunity_id,
        coalesce(salesforce_opportunities.is_deleted, false) as is_opportunity_deleted,
        projects.end_date,
        projects.revenue,
        projects.cost

    from projects
    left join salesforce_opportunities
        on left(projects.opportunity_id, 15) = salesforce_opportunities.opportunity_id_15
    where not projects.is_deleted

),

final as (

    select
        linked.project_id,
        linked.opportunity_id,
        linked.end_date,
        linked.revenue,
        linked.cost,
        linked.revenue is not null and linked.cost is not null as has_figures,
        coalesce(linked.end_date <= crm_as_of.as_of_date, false) as has_ended

    from linked
    cross join crm_as_of
    -- A deleted opportunity is left out of every metric, and so is the project delivering it.
    where not linked.is_opportunity_deleted

)

select * from final
