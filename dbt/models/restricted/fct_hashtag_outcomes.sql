{#-
    One row per (human message, registered hashtag) (METRICS.md "Beside metric_values"): who wrote
    it (pseudonymous key), where, which outcome the hashtag means, the Salesforce opportunities and
    accounts the message references, and for pain points when and how fast they were resolved.

    Choices: referenced ids are every opportunity the message names by a 15- or 18-character Id or
    record URL (int_message_opportunity_references), whatever the opportunity's CloseDate; a message
    with two registered hashtags has two rows. Unregistered hashtags are not outcomes and are left
    out (they still count in hashtag_messages). The message's own columns come with its hashtag
    rows (int_message_hashtags), so no message without a hashtag is read.
    Restricted tier: ids are keyed hashes (restricted_key) a reader can't look up in the source,
    and the author key is this fact's own, so it joins no other fact's person.
-#}
with

hashtags as (

    select * from {{ ref('int_message_hashtags') }}

),

pseudonym_key as (

    -- The key's only readers outside staging: keyed hashes must be computed where they are used.
    select * from {{ source('svw_private', 'pseudonym_key') }}

),

pain_points as (

    select * from {{ ref('int_pain_points') }}

),

references_ as (

    select * from {{ ref('int_message_opportunity_references') }}

),

message_references as (

    select
        references_.message_id,
        array_agg(
            distinct {{ restricted_key('opportunity', 'references_.opportunity_id') }}
        ) as referenced_opportunity_keys,
        array_agg(distinct {{ restricted_key('account', 'references_.account_id') }})
        filter (where references_.account_id is not null) as referenced_account_keys

    from references_
    cross join pseudonym_key
    group by references_.message_id

),

final as (

    select
        {{ restricted_key('message', 'hashtags.message_id') }}::text as message_key,
        {{ restricted_key('thread', 'hashtags.thread_id') }}::text as thread_key,
        hashtags.platform::text as platform,
        hashtags.created_at::timestamptz as created_at,
        {{ restricted_key('hashtag_outcome_author', 'hashtags.person_key') }}::text as author_key,
        hashtags.department::text as department,
        hashtags.hashtag::text as hashtag,
        hashtags.outcome_type::text as outcome_type,
        coalesce(
            message_references.referenced_opportunity_keys, '{}'
        )::text[] as referenced_opportunity_keys,
        coalesce(message_references.referenced_account_keys, '{}')::text[] as referenced_account_keys,
        pain_points.resolved_at::timestamptz as resolved_at,
        pain_points.hours_to_resolution::numeric as hours_to_resolution

    from hashtags
    cross join pseudonym_key
    left join message_references
        on hashtags.message_id = message_references.message_id
    left join pain_points
        on hashtags.message_id = pain_points.message_id and hashtags.outcome_type = 'pain_point'
    where hashtags.outcome_type is not null

)

select * from final
