{#-
    One row per opportunity that is not deleted (restricted tier): the opportunity and its account
    as keyed hashes (the same restricted_key as fct_hashtag_outcomes' references, so the two facts
    join on the opportunity), the owner as this fact's own person key.
-#}
with

opportunities as (

    select * from {{ ref('int_opportunities') }}

),

pseudonym_key as (

    -- Keyed hashes are computed where they are published (see restricted_key).
    select * from {{ source('svw_private', 'pseudonym_key') }}

),

final as (

    select
        {{ restricted_key('opportunity', 'opportunities.opportunity_id') }}::text as opportunity_key,
        {{ restricted_key('account', 'opportunities.account_id') }}::text as account_key,
        {{ restricted_key('opportunity_owner', 'opportunities.owner_key') }}::text as owner_key,
        opportunities.department::text as department,
        opportunities.created_at::timestamptz as created_at,
        opportunities.close_date::date as close_date,
        opportunities.is_closed::boolean as is_closed,
        opportunities.is_won::boolean as is_won,
        opportunities.is_socially_supported::boolean as is_socially_supported,
        opportunities.first_quote_at::timestamptz as first_quote_at,
        opportunities.days_to_quote::numeric as days_to_quote

    from opportunities
    cross join pseudonym_key

)

select * from final
