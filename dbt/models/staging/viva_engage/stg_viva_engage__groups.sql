with

source as (

    select * from {{ source('viva_engage', 'groups') }}

),

renamed as (

    select
        id as group_id,
        created_by_id as creator_viva_engage_user_id,
        coalesce(svw_cast.to_boolean(private), false) as is_private,
        coalesce(svw_cast.to_boolean(deleted), false) as is_deleted,
        {{ to_utc('created_at') }} as created_at,
        {{ to_utc('updated_at') }} as updated_at,
        _load_id as load_id

    from source

)

select * from renamed
