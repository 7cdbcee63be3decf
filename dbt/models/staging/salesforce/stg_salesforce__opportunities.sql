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
        svw_cast.to_number("Amount") as amount,
        svw_cast.to_number("Probability") as probability_percent,
        nullif(trim("StageName"), '') as stage_name,
        nullif(trim("ForecastCategoryName"), '') as forecast_category,
        nullif(trim("Type"), '') as opportunity_type,
        nullif(trim("LeadSource"), '') as lead_source,
        svw_cast.to_date("CloseDate") as close_date,
        coalesce(svw_cast.to_boolean("IsClosed"), false) as is_closed,
        coalesce(svw_cast.to_boolean("IsWon"), false) as is_won,
        coalesce(svw_cast.to_boolean("IsDeleted"), false) as is_deleted,
        {{ to_utc('"CreatedDate"') }} as created_at,
        {{ to_utc('"LastModifiedDate"') }} as modified_at,
        {{ to_utc('"SystemModstamp"') }} as system_modified_at,
        _load_id as load_id

    from source

)

select * from renamed
