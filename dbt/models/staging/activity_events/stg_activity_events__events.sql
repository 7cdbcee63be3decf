with

source as (

    select * from {{ source('activity_events', 'events') }}

),

pseudonym_key as (

    select * from {{ source('svw_private', 'pseudonym_key') }}

),

renamed as (

    select
        source.event_id,
        {{ to_utc('source.occurred_at') }} as occurred_at,
        {{ person_key("nullif(lower(trim(source.user_email)), '')") }} as person_key,
        lower(nullif(trim(source.event_type), '')) as event_type,
        lower(nullif(trim(source.object_type), '')) as object_type,
        nullif(trim(source.object_id), '') as object_id,
        source._load_id as load_id

    from source
    cross join pseudonym_key

)

select * from renamed
