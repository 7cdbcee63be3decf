{#-
    Messages with their author resolved to a person and classified. A human message is sent by a
    known person (sender_type 'user'), is not a system/join/tombstone message and is not deleted;
    messages in private groups and conversations count.
-#}
with

messages as (

    select * from {{ ref('stg_viva_engage__messages') }}

),

users as (

    select * from {{ ref('stg_viva_engage__users') }}

),

persons as (

    select * from {{ ref('int_persons') }}

),

classified as (

    select
        messages.message_id,
        messages.thread_id,
        messages.group_id,
        users.person_key,
        persons.department,
        messages.message_type,
        messages.created_at,
        messages.replied_to_message_id is null as is_thread_starter,
        (
            messages.sender_type = 'user'
            and users.person_key is not null
            and messages.message_type not in ('system', 'join', 'tombstone')
            and messages.deleted_at is null
        ) as is_human

    from messages
    left join users
        on messages.sender_viva_engage_user_id = users.viva_engage_user_id
    left join persons
        on users.person_key = persons.person_key

)

select * from classified
