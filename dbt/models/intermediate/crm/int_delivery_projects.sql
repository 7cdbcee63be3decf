{#-
    Delivery projects with the opportunity they deliver: its owner's department and whether it was
    socially supported. The lookup is matched on the Id's first 15 characters, so a lookup field
    holding the 15-character form still finds its opportunity. A project has ended once its end
    date is on or before the CRM's as-of date (its latest SystemModstamp): the date the data
    speaks for, which stays the same when the same data is rebuilt on a later day.
-#}
with

projects as (

    select * from {{ ref('stg_salesforce__projects') }}

),

salesforce_opportunities as (

    select * from {{ ref('int_salesforce_opportunities') }}

),

opportunities as (

    select * from {{ ref('int_opportunities') }}

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
        opportunities.account_id,
        opportunities.owner_key,
        opportunities.department,
        linked.end_date,
        linked.revenue,
        linked.cost,
        linked.revenue is not null and linked.cost is not null as has_figures,
        coalesce(linked.end_date <= crm_as_of.as_of_date, false) as has_ended,
        coalesce(opportunities.is_socially_supported, false) as is_socially_supported

    from linked
    cross join crm_as_of
    left join opportunities
        on linked.opportunity_id = opportunities.opportunity_id
    -- A deleted opportunity is left out of every metric, and so is the project delivering it.
    where not linked.is_opportunity_deleted

)

select * from final
