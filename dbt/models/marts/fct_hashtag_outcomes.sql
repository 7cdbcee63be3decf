{#-
    One row per (human message, registered hashtag) (METRICS.md "Beside metric_values"): who wrote
    it (pseudonymous key), where, which outcome the hashtag means, the Salesforce opportunities and
    accounts the message references, and for pain points when and how fast they were resolved.

    Choices: referenced ids are every opportunity the message names by a 15- or 18-character Id or
    record URL (int_message_opportunity_references), whatever the opportunity's CloseDate; a message
    with two registered hashtags has two rows. Unregistered hashtags are not outcomes and are left
    out (they still count in hashtag_messages). The message's own columns come with its hashtag
    rows (int_message_hashtags), so no message without a hashtag is read.
-#}
with

hashtags as (

    select * from {{ ref('int_message_hashtags') }}

),

pain_points as (

    select * from {{ ref('int_pain_points') }}

),

references_ as (

    select * from {{ ref('int_message_opportunity_references') }}

),

message_references as (

    select
        message_id,
        array_agg(distinct opportunity_id order by opportunity_id) as referenced_opportunity_ids,
        array_agg(distinct account_id order by account_id)
        filter (where account_id is not null) as referenced_account_ids

    from references_
    group by message_id

),

final as (

    select
        hashtags.message_id::text as message_id,
        hashtags.thread_id::text as thread_id,
        hashtags.platform::text as platform,
        hashtags.created_at::timestamptz as created_at,
        hashtags.person_key::text as author_key,
        hashtags.department::text as department,
        hashtags.hashtag::text as hashtag,
        hashtags.outcome_type::text as outcome_type,
        coalesce(message_references.referenced_opportunity_ids, '{}')::text[] as referenced_opportunity_ids,
        coalesce(message_references.referenced_account_ids, '{}')::text[] as referenced_account_ids,
        pain_points.resolved_at::timestamptz as resolved_at,
        pain_points.hours_to_resolution::numeric as hours_to_resolution

    from hashtags
    left join message_references
        on hashtags.message_id = message_references.message_id
    left join pain_points
        on hashtags.message_id = pain_points.message_id and hashtags.outcome_type = 'pain_point'
    where hashtags.outcome_type is not null

)

select * from final
