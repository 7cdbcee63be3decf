{#-
    Which human intranet messages mention which opportunity (METRICS.md, socially supported): a
    token of the message (int_message_id_tokens: whole tokens of 15 or 18 ASCII letters and digits)
    whose first 15 characters equal the Id's first 15, case-sensitively, because the 15-character
    Id is case-sensitive. Every date is kept: int_opportunities applies the CloseDate rule. The
    match is redone on every build (the messages' text is scanned once, incrementally, for tokens).
-#}
with

tokens as (

    select * from {{ ref('int_message_id_tokens') }}

),

opportunities as (

    select * from {{ ref('int_salesforce_opportunities') }}

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
