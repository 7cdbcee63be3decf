with

source as (

    select * from {{ source('salesforce', 'users') }}

),

pseudonym_key as (

    select * from {{ source('svw_private', 'pseudonym_key') }}

),

renamed as (

    select
        source."Id" as salesforce_user_id,
        {{ person_key("'salesforce-user:' || source.\"Id\"") }} as salesforce_user_key,
        {{ person_key(
            "coalesce(nullif(lower(trim(source.\"Email\")), ''), 'salesforce:' || source.\"Id\")"
        ) }} as person_key,
        nullif(trim(source."Department"), '') as department,
        coalesce(svw_cast.to_boolean(source."IsActive"), false) as is_active,
        {{ to_utc('source."SystemModstamp"') }} as modified_at,
        source._load_id as load_id

    from source
    cross join pseudonym_key

)

select * from renamed
