{#-
    Every intranet message, Viva Engage and Slack, with its author resolved to a person and
    classified (METRICS.md).

    - Human message: sent by a known person, not a system/join/tombstone message, not deleted.
      Viva Engage: sender_type 'user', a sender in the user directory, message_type not system,
      join or tombstone, deleted_at empty. Slack: a non-bot member without bot_id, and no subtype
      or one that people write (thread_broadcast, file_share, me_message, and file_comment: a
      comment on a file in older exports, its author landed as the user); joins, bot messages,
      tombstones and other channel events are not human.
    - Thread starter: Viva Engage replied_to_id empty; Slack no thread_ts or thread_ts = ts.
    - Question: a human thread starter (a post) with message_type 'question', or whose text ends in '?' once
      trailing hashtags, URLs (http(s):// or www. up to the next white space, so a '?' glued to a
      URL belongs to the URL) and white space are removed.
    - message_text is NFC-normalised, so hashtags compare equal however their accents were typed.

    Incremental (docs/incremental-builds.md): load_id is the latest raw load behind the row — the
    message's, its sender's directory row's or its person's (int_persons.load_id) — and a run
    recomputes every message whose load_id is newer than the newest one built, so a new or edited
    message, a sender who became a bot or a person who changed department are all redone. Rows
    only disappear from raw by erasure, whose rebuild is a full refresh. The condition sits in each
    platform's branch, on the raw load ids and on the changed senders' ids (macro changed_senders:
    a sub-select evaluated once, so no source id is written into compiled SQL), so that only the
    redone messages are read, parsed and NFC-normalised (at 20,000 employees normalising all of
    history was most of a run).
-#}
{{ config(
    materialized='incremental',
    unique_key='message_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    indexes=[
        {'columns': ['message_id']}, {'columns': ['platform', 'thread_id']}, {'columns': ['load_id']},
        {'columns': ['created_at']},
    ],
) }}
{%- set since_load_id = built_load_id() %}
{%- set senders = changed_senders(since_load_id) if is_incremental() else none %}

with

viva_engage_messages as (

    select * from {{ ref('stg_viva_engage__messages') }}

),

viva_engage_users as (

    select * from {{ ref('stg_viva_engage__users') }}

),

slack_messages as (

    select * from {{ ref('stg_slack__messages') }}

),

slack_users as (

    select * from {{ ref('stg_slack__users') }}

),

persons as (

    select * from {{ ref('int_persons') }}

),


viva_engage as (

    select
        viva_engage_messages.message_id,
        'viva_engage' as platform,
        viva_engage_messages.thread_id,
        viva_engage_messages.group_id,
        viva_engage_users.person_key,
        viva_engage_messages.message_type,
        viva_engage_messages.message_text,
        viva_engage_messages.created_at,
        viva_engage_messages.replied_to_message_id is null as is_thread_starter,
        (
            viva_engage_messages.sender_type = 'user'
            and viva_engage_users.person_key is not null
            and viva_engage_messages.message_type not in ('system', 'join', 'tombstone')
            and viva_engage_messages.deleted_at is null
        ) as is_human,
        viva_engage_messages.load_id,
        viva_engage_users.load_id as sender_load_id

    from viva_engage_messages
    left join viva_engage_users
        on viva_engage_messages.sender_viva_engage_user_id = viva_engage_users.viva_engage_user_id
    {%- if is_incremental() %}
        where
            viva_engage_messages.load_id > {{ since_load_id }}
            or {{ sent_by('viva_engage_messages.sender_viva_engage_user_id', senders.viva_engage) }}
    {%- endif %}

),

slack as (

    select
        slack_messages.message_id,
        'slack' as platform,
        slack_messages.thread_id,
        slack_messages.channel_id as group_id,
        slack_users.person_key,
        coalesce(slack_messages.message_subtype, slack_messages.message_type) as message_type,
        slack_messages.message_text,
        slack_messages.created_at,
        slack_messages.is_thread_starter,
        (
            slack_users.person_key is not null
            and not slack_users.is_bot
            and slack_messages.slack_bot_id is null
            and slack_messages.message_type = 'message'
            and coalesce(slack_messages.message_subtype, 'none')
            in ('none', 'thread_broadcast', 'file_share', 'file_comment', 'me_message')
        ) as is_human,
        slack_messages.load_id,
        slack_users.load_id as sender_load_id

    from slack_messages
    left join slack_users
        on slack_messages.slack_user_id = slack_users.slack_user_id
    {%- if is_incremental() %}
        where
            slack_messages.load_id > {{ since_load_id }}
            or {{ sent_by('slack_messages.slack_user_id', senders.slack) }}
    {%- endif %}

),

unioned as (

    select * from viva_engage
    union all
    select * from slack

),

normalised as (

    select
        message_id,
        platform,
        thread_id,
        group_id,
        person_key,
        message_type,
        normalize(message_text, nfc) as message_text,
        created_at,
        is_thread_starter,
        is_human,
        greatest(load_id, sender_load_id) as load_id

    from unioned

),

classified as (

    select
        normalised.message_id,
        normalised.platform,
        normalised.thread_id,
        normalised.group_id,
        normalised.person_key,
        persons.department,
        normalised.message_type,
        normalised.message_text,
        normalised.created_at,
        normalised.is_thread_starter,
        normalised.is_human,
        normalised.is_thread_starter
        and normalised.is_human
        and (
            normalised.message_type = 'question'
            or regexp_replace(
                coalesce(normalised.message_text, ''),
                '(\s|{{ hashtag_pattern()[1:-1] }}|(https?://|www\.)\S*)*$',
                ''
            ) like '%?'
        ) as is_question,
        greatest(normalised.load_id, persons.load_id) as load_id

    from normalised
    left join persons
        on normalised.person_key = persons.person_key
    where {{ is_newer_than_built('greatest(normalised.load_id, persons.load_id)') }}

)

select * from classified
