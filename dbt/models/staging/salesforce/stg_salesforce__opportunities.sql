with

source as (

    select * from {{ source('salesforce', 'opportunities') }}

),

renamed as (

    select
        "Id" as opportunity_id,
        left("Id", 15) as opportunity_id_15,
        nullif(trim("AccountId"), '') as account_id,
        nullif(trim("OwnerId"), '') as owner_salesforce_user_id,
        nullif(trim("Amount"), '')::numeric as amount,
        nullif(trim("Probability"), '')::numeric as probability_percent,
        nullif(trim("StageName"), '') as stage_name,
        nullif(trim("ForecastCategoryName"), '') as forecast_category,
        nullif(trim("Type"), '') as opportunity_type,
        nullif(trim("LeadSource"), '') as lead_source,
        nullif(trim("CloseDate"), '')::date as close_date,
        coalesce(lower("IsClosed") = 'true', false) as is_closed,
        coalesce(lower("IsWon") = 'true', false) as is_won,
        coalesce(lower("IsDeleted") = 'true', false) as is_deleted,
        {{ to_utc('"CreatedDate"') }} as created_at,
        {{ to_utc('"LastModifiedDate"') }} as modified_at,
        {{ to_utc('"SystemModstamp"') }} as system_modified_at,
        _load_id as load_id

    from source

)

select * from renamed
