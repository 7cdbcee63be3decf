{#-
    One row per post (a human thread starter) with what happened in its thread: whether another
    person replied and when first (METRICS.md level 4).

    - A reply by another person is a human reply in the same thread whose author is not the
      poster; the asker's own follow-ups never answer their question.
    - hours_to_first_answer is measured from the post to that first reply, in hours (fractional);
      for a question it is the time to its first answer.
-#}
with

messages as (

    select * from {{ ref('int_messages') }}

),

posts as (

    select * from messages
    where is_human and is_thread_starter

),

replies as (

    select * from messages
    where is_human and not is_thread_starter

),

first_replies as (

    select
        posts.message_id,
        min(replies.created_at) as first_reply_by_other_at

    from posts
    inner join replies
        on
            posts.platform = replies.platform
            and posts.thread_id = replies.thread_id
            and posts.person_key != replies.person_key
    group by posts.message_id

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
        first_replies.first_reply_by_other_at,
        first_replies.message_id is not null as has_reply_by_other,
        extract(epoch from first_replies.first_reply_by_other_at - posts.created_at)
        / 3600.0 as hours_to_first_reply_by_other

    from posts
    left join first_replies
        on posts.message_id = first_replies.message_id

)

select * from final
