{#-
    One row per pain point: a human message tagged with a pain_point hashtag of the registry, with
    the first resolution-tagged human message in the same thread created strictly later
    (METRICS.md level 5). A message tagged both ways does not resolve itself.
-#}
with

messages as (

    select * from {{ ref('int_messages') }}

),

hashtags as (

    select * from {{ ref('int_message_hashtags') }}

),

tagged as (

    select distinct
        messages.message_id,
        messages.platform,
        messages.thread_id,
        messages.person_key,
        messages.department,
        messages.created_at,
        hashtags.outcome_type

    from messages
    inner join hashtags
        on messages.message_id = hashtags.message_id
    where hashtags.outcome_type in ('pain_point', 'resolution')

),

pain_points as (

    select * from tagged
    where outcome_type = 'pain_point'

),

resolutions as (

    select * from tagged
    where outcome_type = 'resolution'

),

resolved as (

    select
        pain_points.message_id,
        min(resolutions.created_at) as resolved_at

    from pain_points
    inner join resolutions
        on
            pain_points.platform = resolutions.platform
            and pain_points.thread_id = resolutions.thread_id
            and pain_points.created_at < resolutions.created_at
    group by pain_points.message_id

),

final as (

    select
        pain_points.message_id,
        pain_points.platform,
        pain_points.thread_id,
        pain_points.person_key,
        pain_points.department,
        pain_points.created_at,
        resolved.resolved_at,
        resolved.resolved_at is not null as is_resolved,
        extract(epoch from resolved.resolved_at - pain_points.created_at)
        / 3600.0 as hours_to_resolution

    from pain_points
    left join resolved
        on pain_points.message_id = resolved.message_id

)

select * from final
