{#-
    One row per pain point: a human message tagged with a pain_point hashtag of the registry, with
    the first resolution-tagged human message in the same thread created strictly later
    (METRICS.md level 5). A message tagged both ways does not resolve itself.

    Incremental (docs/incremental-builds.md), like int_posts: a run redoes every thread holding a
    message of int_messages newer (load_id) than the newest one built here — a late resolution
    resolves its pain point, whatever its age — replacing the thread's rows (delete+insert on
    platform, thread_id; load_id is the thread's newest), after the pre-hook (delete_redone) has
    deleted every row of a recomputed thread (a pain point whose tag went away). A registry change needs
    `dbt build --full-refresh`.
-#}
{{ config(
    materialized='incremental',
    unique_key=['platform', 'thread_id'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    indexes=[{'columns': ['platform', 'thread_id']}, {'columns': ['load_id']}, {'columns': ['created_at']}],
    pre_hook=["{{ delete_redone(['platform', 'thread_id'], ref('int_messages')) }}"],
) }}

with

messages as not materialized (

    select * from {{ ref('int_messages') }}

),

{% if is_incremental() %}

    touched_threads as (

        select distinct
            messages.platform,
            messages.thread_id

        from messages
        where messages.load_id > {{ built_load_id() }}

    ),

{% endif %}

thread_messages as not materialized (

    select messages.*

    from messages
    {% if is_incremental() -%}
        inner join touched_threads
            on messages.platform = touched_threads.platform and messages.thread_id = touched_threads.thread_id
    {%- endif %}

),

thread_load_ids as (

    select
        platform,
        thread_id,
        max(load_id) as load_id

    from thread_messages
    group by platform, thread_id

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

    from thread_messages as messages
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
        / 3600.0 as hours_to_resolution,
        thread_load_ids.load_id

    from pain_points
    left join resolved
        on pain_points.message_id = resolved.message_id
    inner join thread_load_ids
        on
            pain_points.platform = thread_load_ids.platform
            and pain_points.thread_id = thread_load_ids.thread_id

)

select * from final
