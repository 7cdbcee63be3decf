with

source as (

    select * from {{ source('slack', 'channels') }}

),

renamed as (

    select
        id as channel_id,
        nullif(trim(creator), '') as creator_slack_user_id,
        coalesce(svw_cast.to_boolean(is_private), false) as is_private,
        coalesce(svw_cast.to_boolean(is_archived), false) as is_archived,
        coalesce(svw_cast.to_boolean(is_general), false) as is_general,
        svw_cast.to_integer(member_count) as member_count,
        svw_cast.unix_to_utc(created) as created_at,
        _load_id as load_id

    from source

)

select * from renamed
