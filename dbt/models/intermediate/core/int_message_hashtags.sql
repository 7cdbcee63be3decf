{#-
    One row per (human message, distinct hashtag) by the METRICS.md grammar, lower-cased after NFC
    normalisation (int_messages already normalises the text), with the registry's outcome_type
    when the hashtag is registered.

    Incremental (docs/incremental-builds.md): a run redoes the hashtags of every message of
    int_messages whose load_id is newer than the newest one built here, replacing all of that
    message's rows (delete+insert on message_id), after the pre-hook (delete_redone) has deleted
    every row of a recomputed message, so a message with no hashtag any more (edited, or no longer
    human) keeps none. A registry change needs `dbt build --full-refresh`.

    The message's thread, platform, time, author and department are carried along for
    fct_hashtag_outcomes, which then reads no message it has no hashtag row for (at L, 734,000
    hashtag rows against 2 million messages). They are int_messages' own and stay in step with it:
    a message whose person changed department is redone there with a newer load_id, so here too.
-#}
{{ config(
    materialized='incremental',
    unique_key='message_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    indexes=[{'columns': ['message_id']}, {'columns': ['load_id']}],
    pre_hook=["{{ delete_redone(['message_id'], ref('int_messages')) }}"],
) }}

with

messages as (

    select * from {{ ref('int_messages') }}

),

registry as (

    select * from {{ ref('hashtag_registry') }}

),

registered as (

    select
        lower(normalize(hashtag, nfc)) as hashtag,
        outcome_type

    from registry

),

extracted as (

    select distinct
        messages.message_id,
        lower(match[1]) as hashtag,
        messages.thread_id,
        messages.platform,
        messages.created_at,
        messages.person_key,
        messages.department,
        messages.load_id

    from messages
    cross join lateral regexp_matches(messages.message_text, {{ hashtag_pattern() }}, 'g') as match
    where
        messages.is_human
        and {{ is_newer_than_built('messages.load_id') }}

),

final as (

    select
        extracted.message_id,
        extracted.hashtag,
        registered.outcome_type,
        extracted.thread_id,
        extracted.platform,
        extracted.created_at,
        extracted.person_key,
        extracted.department,
        extracted.load_id

    from extracted
    left join registered
        on extracted.hashtag = registered.hashtag

)

select * from final
