with

source as (

    select * from {{ source('salesforce', 'accounts') }}

),

renamed as (

    select
        "Id" as account_id,
        left("Id", 15) as account_id_15,
        nullif(trim("OwnerId"), '') as owner_salesforce_user_id,
        nullif(trim("Industry"), '') as industry,
        coalesce(svw_cast.to_boolean("IsDeleted"), false) as is_deleted,
        {{ to_utc('"SystemModstamp"') }} as modified_at,
        _load_id as load_id

    from source

)

select * from renamed
