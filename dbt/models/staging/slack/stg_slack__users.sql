with

source as (

    select * from {{ source('slack', 'users') }}

),

pseudonym_key as (

    select * from {{ source('svw_private', 'pseudonym_key') }}

),

renamed as (

    select
        source.id as slack_user_id,
        {{ person_key("coalesce(nullif(lower(trim(source.email)), ''), 'slack:' || source.id)") }}
            as person_key,
        coalesce(svw_cast.to_boolean(source.is_bot), false) as is_bot,
        coalesce(svw_cast.to_boolean(source.deleted), false) as is_deleted,
        nullif(trim(source.team_id), '') as slack_team_id,
        source._load_id as load_id

    from source
    cross join pseudonym_key

)

select * from renamed
