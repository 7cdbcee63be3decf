{#-
    One row per opportunity that is not deleted, with its owner resolved to an intranet person,
    the first time it reached the quote stage and whether it was socially supported.
-#}
with

opportunities as (

    select * from {{ ref('int_salesforce_opportunities') }}

),

opportunity_history as (

    select * from {{ ref('int_opportunity_history') }}

),

salesforce_users as (

    select * from {{ ref('stg_salesforce__users') }}

),

persons as (

    select * from {{ ref('int_persons') }}

),

message_references as (

    select * from {{ ref('int_message_opportunity_references') }}

),

first_quotes as (

    select
        opportunity_id,
        min(created_at) as first_quote_at

    from opportunity_history
    where stage_name = 'Proposal/Price Quote' and not is_deleted
    group by opportunity_id

),

owners as (

    select
        salesforce_users.salesforce_user_key,
        persons.person_key,
        persons.department

    from salesforce_users
    inner join persons
        on salesforce_users.person_key = persons.person_key

),

supported as (

    select distinct message_references.opportunity_id

    from message_references
    inner join opportunities
        on message_references.opportunity_id = opportunities.opportunity_id
    -- The message's UTC calendar date, whatever the session's time zone.
    where (message_references.message_created_at at time zone 'UTC')::date <= opportunities.close_date

),

final as (

    select
        opportunities.opportunity_id,
        opportunities.opportunity_id_15,
        opportunities.account_id,
        owners.person_key as owner_key,
        owners.department,
        opportunities.stage_name,
        opportunities.amount,
        opportunities.created_at,
        opportunities.close_date,
        opportunities.is_closed,
        opportunities.is_won,
        supported.opportunity_id is not null as is_socially_supported,
        first_quotes.first_quote_at,
        trim_scale(
            extract(epoch from first_quotes.first_quote_at - opportunities.created_at) / 86400
        ) as days_to_quote

    from opportunities
    left join owners
        on opportunities.owner_user_key = owners.salesforce_user_key
    left join first_quotes
        on opportunities.opportunity_id = first_quotes.opportunity_id
    left join supported
        on opportunities.opportunity_id = supported.opportunity_id
    where not opportunities.is_deleted

)

select * from final
