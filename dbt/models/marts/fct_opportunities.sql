with

opportunities as (

    select * from {{ ref('int_opportunities') }}

),

final as (

    select
        opportunity_id::text as opportunity_id,
        account_id::text as account_id,
        owner_key::text as owner_key,
        department::text as department,
        created_at::timestamptz as created_at,
        close_date::date as close_date,
        is_closed::boolean as is_closed,
        is_won::boolean as is_won,
        is_socially_supported::boolean as is_socially_supported,
        first_quote_at::timestamptz as first_quote_at,
        days_to_quote::numeric as days_to_quote

    from opportunities

)

select * from final
