{#-
    Delivery projects (int_salesforce_projects: linked, not deleted, ended or not) with the
    opportunity they deliver: its account, its owner's department and whether it was socially
    supported.
-#}
with

projects as (

    select * from {{ ref('int_salesforce_projects') }}

),

opportunities as (

    select * from {{ ref('int_opportunities') }}

),

final as (

    select
        projects.project_id,
        projects.opportunity_id,
        opportunities.account_id,
        opportunities.owner_key,
        opportunities.department,
        projects.end_date,
        projects.revenue,
        projects.cost,
        projects.has_figures,
        projects.has_ended,
        coalesce(opportunities.is_socially_supported, false) as is_socially_supported

    from projects
    left join opportunities
        on projects.opportunity_id = opportunities.opportunity_id

)

select * from final
