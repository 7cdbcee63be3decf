with

source as (

    select * from {{ source('salesforce', 'projects') }}

),

renamed as (

    select
        "Id" as project_id,
        nullif(trim("OpportunityId"), '') as opportunity_id,
        nullif(trim("Revenue"), '')::numeric as revenue,
        nullif(trim("Cost"), '')::numeric as cost,
        nullif(trim("EndDate"), '')::date as end_date,
        coalesce(lower("IsDeleted") = 'true', false) as is_deleted,
        {{ to_utc('"SystemModstamp"') }} as modified_at,
        _load_id as load_id

    from source

)

select * from renamed
