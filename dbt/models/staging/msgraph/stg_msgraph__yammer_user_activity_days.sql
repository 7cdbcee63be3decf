with

source as (

    select * from {{ source('msgraph', 'yammer_activity_user_detail') }}

),

pseudonym_key as (

    select * from {{ source('svw_private', 'pseudonym_key') }}

),

flagged as (

    select
        source.*,
        coalesce(trim(source.user_principal_name) ~ '^[0-9A-Fa-f]{32}$', false) as is_concealed,
        {{ person_key("nullif(lower(trim(source.user_principal_name)), '')", 'pseudonym_key') }}
            as principal_key

    from source
    cross join pseudonym_key

),

renamed as (

    select
        svw_cast.to_date(flagged.report_refresh_date) as activity_date,
        flagged.principal_key,
        case when not flagged.is_concealed then flagged.principal_key end as person_key,
        flagged.is_concealed,
        lower(nullif(trim(flagged.user_state), '')) as user_state,
        coalesce(svw_cast.to_integer(flagged.posted_count), 0) as post_count,
        coalesce(svw_cast.to_integer(flagged.read_count), 0) as read_count,
        coalesce(svw_cast.to_integer(flagged.liked_count), 0) as like_count,
        flagged._load_id as load_id

    from flagged

)

select * from renamed
