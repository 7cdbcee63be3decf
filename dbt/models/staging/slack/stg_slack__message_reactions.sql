{#-
    One row per reaction a Slack member gave to a message: the reactions JSON of a message unnested
    to its users. A reaction is the reacting member's like (METRICS.md); the export carries no
    reaction time, so it counts on the message's own time (message_created_at, as
    stg_slack__messages.created_at; a filter on it reaches the raw scan before the JSON is unnested).
-#}
with

source as (

    select * from {{ source('slack', 'messages') }}

),

reactions as (

    select
        source.channel_id || ':' || source.ts as message_id,
        reaction.value ->> 'name' as reaction_name,
        reaction.value -> 'users' as reaction_users,
        svw_cast.unix_to_utc(source.ts) as message_created_at,
        source._load_id as load_id

    from source
    cross join lateral jsonb_array_elements(source.reactions::jsonb) as reaction
    where source.reactions ~ '^\s*\['

),

unnested as (

    select
        reactions.message_id,
        reactions.reaction_name,
        reacting_user.value as slack_user_id,
        reactions.message_created_at,
        reactions.load_id

    from reactions
    cross join lateral jsonb_array_elements_text(
        case
            when jsonb_typeof(reactions.reaction_users) = 'array' then reactions.reaction_users
            else '[]'::jsonb
        end
    ) as reacting_user

)

select * from unnested
