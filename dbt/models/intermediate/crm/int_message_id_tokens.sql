{#-
    The tokens of human intranet messages that could be a Salesforce Id (METRICS.md, socially
    supported): a whole token of exactly 15 or 18 ASCII letters and digits, not part of a longer
    run of letters or digits, alone or inside a record URL (slashes and punctuation end a token),
    kept as its first 15 characters. int_message_opportunity_references matches them with the
    opportunities on every build, so an opportunity loaded after the message that names it is
    still found; only the text scan is incremental.

    Incremental (docs/incremental-builds.md): a run scans the messages of int_messages whose load_id
    is newer than the newest one here; the pre-hook (delete_redone) first deletes every token of a
    redone message, so a message edited to name no Id, or no longer human, keeps none.
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

human_messages as (

    select
        message_id,
        message_text,
        created_at,
        load_id

    from messages
    where
        is_human
        and message_text is not null
        and {{ is_newer_than_built('load_id') }}

),

tokens as (

    select distinct
        human_messages.message_id,
        human_messages.created_at,
        left(token_match.token[1], 15) as token_15,
        human_messages.load_id

    from human_messages
    cross join lateral regexp_matches(
        human_messages.message_text,
        '(?<![[:alnum:]])([A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?)(?![[:alnum:]])',
        'g'
    ) as token_match (token)

)

select * from tokens
