with

source as (

    select * from {{ source('salesforce', 'projects') }}

),

renamed as (

    select
        "Id" as project_id,
        nullif(trim("OpportunityId"), '') as opportunity_id,
        svw_cast.to_number("Revenue") as revenue,
        svw_cast.to_number("Cost") as cost,
        svw_cast.to_date("EndDate") as end_date,
        coalesce(svw_cast.to_boolean("IsDeleted"), false) as is_deleted,
        {{ to_utc('"SystemModstamp"') }} as modified_at,
        _load_id as load_id

    from source

)

select * from renamed
