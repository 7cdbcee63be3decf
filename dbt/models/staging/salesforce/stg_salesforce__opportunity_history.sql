with

source as (

    select * from {{ source('salesforce', 'opportunity_history') }}

),

renamed as (

    select
        "Id" as opportunity_history_id,
        "OpportunityId" as opportunity_id,
        nullif(trim("StageName"), '') as stage_name,
        svw_cast.to_number("Amount") as amount,
        svw_cast.to_number("Probability") as probability_percent,
        svw_cast.to_date("CloseDate") as close_date,
        nullif(trim("CreatedById"), '') as creator_salesforce_user_id,
        coalesce(svw_cast.to_boolean("IsDeleted"), false) as is_deleted,
        {{ to_utc('"CreatedDate"') }} as created_at,
        _load_id as load_id

    from source

)

select * from renamed
