with

source as (

    select * from {{ source('viva_engage', 'messages') }}

),

renamed as (

    select
        id as message_id,
        coalesce(nullif(thread_id, ''), id) as thread_id,
        nullif(replied_to_id, '') as replied_to_message_id,
        nullif(group_id, '') as group_id,
        sender_id as sender_viva_engage_user_id,
        lower(sender_type) as sender_type,
        lower(coalesce(message_type, 'update')) as message_type,
        body as message_text,
        coalesce(svw_cast.to_boolean(in_private_group), false) as is_in_private_group,
        coalesce(svw_cast.to_boolean(in_private_conversation), false) as is_in_private_conversation,
        {{ to_utc('created_at') }} as created_at,
        {{ to_utc('deleted_at') }} as deleted_at,
        _load_id as load_id

    from source

)

select * from renamed
