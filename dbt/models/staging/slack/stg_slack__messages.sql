with

source as (

    select * from {{ source('slack', 'messages') }}

),

renamed as (

    select
        source.channel_id || ':' || source.ts as message_id,
        source.channel_id || ':' || coalesce(nullif(source.thread_ts, ''), source.ts) as thread_id,
        source.channel_id,
        source.ts as slack_ts,
        nullif(source.thread_ts, '') as slack_thread_ts,
        coalesce(nullif(source.thread_ts, ''), source.ts) = source.ts as is_thread_starter,
        lower(coalesce(nullif(source.type, ''), 'message')) as message_type,
        lower(nullif(source.subtype, '')) as message_subtype,
        nullif(trim(source.user), '') as slack_user_id,
        nullif(trim(source.bot_id), '') as slack_bot_id,
        source.text as message_text,
        case
            when source.reactions ~ '^\s*\['
                then (
                    select coalesce(sum(svw_cast.to_integer(reaction.value ->> 'count')), 0)
                    from jsonb_array_elements(source.reactions::jsonb) as reaction
                )
            else 0
        end as reaction_count,
        svw_cast.unix_to_utc(source.ts) as created_at,
        svw_cast.unix_to_utc(source.edited_ts) as edited_at,
        source._load_id as load_id

    from source

)

select * from renamed
