{#-
    One row per post (a human thread starter) with what happened in its thread: whether another
    person replied and when first (METRICS.md level 4).

    - A reply by another person is a human reply in the same thread whose author is not the
      poster; the asker's own follow-ups never answer their question.
    - hours_to_first_answer is measured from the post to that first reply, in hours (fractional);
      for a question it is the time to its first answer.

    Incremental (docs/incremental-builds.md): the grain of recomputation is the thread. A run redoes
    every thread holding a message of int_messages newer (load_id) than the newest one built here
    — a late reply changes its question's row, whatever the question's age — replacing the
    thread's rows (delete+insert on platform, thread_id); load_id is the thread's newest. The
    pre-hook (delete_redone) first deletes every row of a recomputed thread, so a post that
    stopped being one (deleted, no longer human) goes. The new loads are found by index (load_id
    compared with a constant), not by reading int_messages whole.
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

posts as (

    select * from thread_messages
    where is_human and is_thread_starter

),

replies as (

    select * from thread_messages
    where is_human and not is_thread_starter

),

final as (

    select
        posts.message_id,
        posts.platform,
        posts.thread_id,
        posts.group_id,
        posts.person_key,
        posts.department,
        posts.created_at,
        posts.is_question,
        first_reply.first_reply_by_other_at,
        first_reply.has_reply_by_other,
        extract(epoch from first_reply.first_reply_by_other_at - posts.created_at)
        / 3600.0 as hours_to_first_reply_by_other,
        thread_load_ids.load_id

    from posts
    -- Per post, through int_messages' (platform, thread_id) index: as a join of all posts with all
    -- replies, an incremental run's estimate of one post made Postgres re-aggregate every reply
    -- once per post (2,635 × 1,100 rows at L, 2.7 s of 2.8).
    cross join
        lateral (
            select
                min(replies.created_at) as first_reply_by_other_at,
                count(*) > 0 as has_reply_by_other

            from replies
            where
                replies.platform = posts.platform
                and replies.thread_id = posts.thread_id
                and replies.person_key != posts.person_key
        ) as first_reply
    inner join thread_load_ids
        on posts.platform = thread_load_ids.platform and posts.thread_id = thread_load_ids.thread_id

)

select * from final
