{#-
    One row per survey response of either platform, with the account it belongs to, that
    account owner's department and the CSAT and NPS scores. The scores and the account reference
    are int_survey_response_fields' (incremental, per response); the account is looked up here, on
    every build, so an account or owner changed in Salesforce, or a person who moved department,
    is seen without the response being loaded again.

    The account is matched on a computed 15-char key rather than inside the join condition, so the
    join stays a hash join on equality.
-#}
with

response_fields as (

    select * from {{ ref('int_survey_response_fields') }}

),

accounts as (

    select * from {{ ref('stg_salesforce__accounts') }}

),

salesforce_users as (

    select * from {{ ref('stg_salesforce__users') }}

),

persons as (

    select * from {{ ref('int_persons') }}

),

referenced as (

    select
        *,
        case
            when length(account_reference) in (15, 18) then left(account_reference, 15)
        end as account_reference_15

    from response_fields

),

account_owners as (

    select
        accounts.account_id,
        accounts.account_id_15,
        persons.department

    from accounts
    left join salesforce_users
        on accounts.owner_salesforce_user_id = salesforce_users.salesforce_user_id
    left join persons
        on salesforce_users.person_key = persons.person_key
    where not accounts.is_deleted

),

final as (

    select
        referenced.response_id,
        referenced.source,
        referenced.survey_id,
        coalesce(account_owners.account_id, nullif(referenced.account_reference, '')) as account_id,
        account_owners.department,
        referenced.created_at,
        referenced.is_completed,
        referenced.csat_score,
        referenced.nps_score

    from referenced
    left join account_owners
        on referenced.account_reference_15 = account_owners.account_id_15

)

select * from final
