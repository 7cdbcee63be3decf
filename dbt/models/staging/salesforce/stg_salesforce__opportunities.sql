with

source as (

    select * from {{ source('salesforce', 'opportunities') }}

),

pseudonym_key as (

    select * from {{ source('svw_private', 'pseudonym_key') }}

),

renamed as (

    select
        source."Id" as opportunity_id,
        left(source."Id", 15) as opportunity_id_15,
        nullif(trim(source."AccountId"), '') as account_id,
        -- The owner's user id, keyed as stg_salesforce__users.salesforce_user_key: no source
        -- user id passes staging.
        {{ person_key("'salesforce-user:' || nullif(trim(source.\"OwnerId\"), '')") }} as owner_user_key,
        svw_cast.to_number(source."Amount") as amount,
        svw_cast.to_number(source."Probability") as probability_percent,
        nullif(trim(source."StageName"), '') as stage_name,
        nullif(trim(source."ForecastCategoryName"), '') as forecast_category,
        nullif(trim(source."Type"), '') as opportunity_type,
        nullif(trim(source."LeadSource"), '') as lead_source,
        svw_cast.to_date(source."CloseDate") as close_date,
        coalesce(svw_cast.to_boolean(source."IsClosed"), false) as is_closed,
        coalesce(svw_cast.to_boolean(source."IsWon"), false) as is_won,
        coalesce(svw_cast.to_boolean(source."IsDeleted"), false) as is_deleted,
        {{ to_utc('source."CreatedDate"') }} as created_at,
        {{ to_utc('source."LastModifiedDate"') }} as modified_at,
        {{ to_utc('source."SystemModstamp"') }} as system_modified_at,
        source._load_id as load_id

    from source
    cross join pseudonym_key

)

select * from renamed
