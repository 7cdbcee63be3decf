with

source as (

    select * from {{ source('slack', 'channels') }}

),

renamed as (

    select
        id as channel_id,
        nullif(trim(creator), '') as creator_slack_user_id,
        coalesce(lower(is_private) = 'true', false) as is_private,
        coalesce(lower(is_archived) = 'true', false) as is_archived,
        coalesce(lower(is_general) = 'true', false) as is_general,
        nullif(trim(member_count), '')::integer as member_count,
        case
            when trim(created) ~ '^[0-9]+(\.[0-9]+)?$' then to_timestamp(trim(created)::numeric)
        end as created_at,
        _load_id as load_id

    from source

)

select * from renamed
