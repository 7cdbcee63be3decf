with

source as (

    select * from {{ source('salesforce', 'opportunity_history') }}

),

renamed as (

    select
        "Id" as opportunity_history_id,
        "OpportunityId" as opportunity_id,
        nullif(trim("StageName"), '') as stage_name,
        nullif(trim("Amount"), '')::numeric as amount,
        nullif(trim("Probability"), '')::numeric as probability_percent,
        nullif(trim("CloseDate"), '')::date as close_date,
        nullif(trim("CreatedById"), '') as creator_salesforce_user_id,
        coalesce(lower("IsDeleted") = 'true', false) as is_deleted,
        {{ to_utc('"CreatedDate"') }} as created_at,
        _load_id as load_id

    from source

)

select * from renamed
