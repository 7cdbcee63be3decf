{#-
    Which human intranet messages mention which opportunity (METRICS.md, socially supported).
    A mention is a whole token of exactly 15 or 18 ASCII letters and digits, not part of a longer
    run of letters or digits, alone or inside a record URL (slashes and punctuation end a token);
    its first 15 characters must equal the Id's first 15, case-sensitively, because the 15-character
    Id is case-sensitive. Every date is kept: int_opportunities applies the CloseDate rule.
-#}
with

messages as (

    select * from {{ ref('int_messages') }}

),

opportunities as (

    select * from {{ ref('stg_salesforce__opportunities') }}

),

human_messages as (

    select
        message_id,
        message_text,
        created_at

    from messages
    where is_human and message_text is not null

),

tokens as (

    select distinct
        human_messages.message_id,
        human_messages.created_at,
        left(token_match.token[1], 15) as token_15

    from human_messages
    cross join lateral regexp_matches(
        human_messages.message_text,
        '(?<![[:alnum:]])([A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?)(?![[:alnum:]])',
        'g'
    ) as token_match (token)

),

references_found as (

    select distinct
        tokens.message_id,
        opportunities.opportunity_id,
        opportunities.account_id,
        tokens.created_at as message_created_at

    from tokens
    inner join opportunities
        on tokens.token_15 = opportunities.opportunity_id_15
    where not opportunities.is_deleted

)

select * from references_found
