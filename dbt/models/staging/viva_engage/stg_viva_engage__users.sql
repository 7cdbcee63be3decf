with

source as (

    select * from {{ source('viva_engage', 'users') }}

),

pseudonym_key as (

    select * from {{ source('svw_private', 'pseudonym_key') }}

),

renamed as (

    select
        source.id as viva_engage_user_id,
        {{ person_key("coalesce(lower(trim(source.email)), 'viva_engage:' || source.id)") }}
            as person_key,
        nullif(trim(source.department), '') as department,
        lower(source.state) as user_state,
        {{ to_utc('source.joined_at') }} as joined_at,
        {{ to_utc('source.deleted_at') }} as deleted_at,
        {{ to_utc('source.suspended_at') }} as suspended_at,
        source._load_id as load_id

    from source
    cross join pseudonym_key

)

select * from renamed
