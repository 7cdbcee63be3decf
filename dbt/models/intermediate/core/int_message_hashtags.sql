{#-
    One row per (human message, distinct hashtag) by the METRICS.md grammar, lower-cased after NFC
    normalisation (int_messages already normalises the text), with the registry's outcome_type
    when the hashtag is registered.
-#}
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
        lower(match[1]) as hashtag

    from messages
    cross join lateral regexp_matches(messages.message_text, {{ hashtag_pattern() }}, 'g') as match
    where messages.is_human

),

final as (

    select
        extracted.message_id,
        extracted.hashtag,
        registered.outcome_type

    from extracted
    left join registered
        on extracted.hashtag = registered.hashtag

)

select * from final
