{#-
    One row per survey response of either platform, with the account it belongs to, that
    account owner's department and the CSAT and NPS scores. Which question is which, and which
    field names the account, comes from the survey_question_map seed: no survey's ids are code.

    Performance: the planner cannot estimate the seed-driven joins (applicable_fields, mapped_answers)
    and, believing `pivoted` holds one row, once chose nested loops over all responses × all
    responses and all responses × all accounts (240 s at 2,000 employees, quadratic in responses).
    Every join here is an equality, so nested loops are switched off for this model's transaction
    (`set local`, so no other model is affected) and the account is matched on a computed 15-char
    key rather than inside the join condition.
-#}
{{ config(pre_hook="set local enable_nestloop = off") }}
with

surveymonkey_responses as (

    select * from {{ ref('stg_surveymonkey__responses') }}

),

surveymonkey_answers as (

    select * from {{ ref('stg_surveymonkey__answers') }}

),

surveymonkey_variables as (

    select * from {{ ref('stg_surveymonkey__response_variables') }}

),

qualtrics_responses as (

    select * from {{ ref('stg_qualtrics__responses') }}

),

qualtrics_answers as (

    select * from {{ ref('stg_qualtrics__answers') }}

),

question_map as (

    select * from {{ ref('survey_question_map') }}

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

responses as (

    select
        response_id,
        'surveymonkey' as source,
        survey_id,
        created_at,
        is_completed

    from surveymonkey_responses

    union all

    -- A response is created when the respondent starts it: StartDate, like SurveyMonkey's
    -- date_created (RecordedDate only comes when it is finished).
    select
        response_id,
        'qualtrics' as source,
        null as survey_id,
        coalesce(started_at, recorded_at, ended_at) as created_at,
        is_finished as is_completed

    from qualtrics_responses

),

answer_fields as (

    select
        'surveymonkey' as source,
        response_id,
        'question' as field_kind,
        question_id as field,
        choice_score as score,
        coalesce(choice_text, answer_text) as field_value

    from surveymonkey_answers

    union all

    select
        'surveymonkey' as source,
        response_id,
        'custom_variable' as field_kind,
        variable_name as field,
        null as score,
        variable_value as field_value

    from surveymonkey_variables

    union all

    select
        'qualtrics' as source,
        response_id,
        'export_field' as field_kind,
        field,
        answer_score as score,
        value as field_value

    from qualtrics_answers

),

-- Per response and role the map row that applies: one naming the response's survey wins over a
-- source-wide one (empty survey_id).
applicable_fields as (

    select
        responses.source,
        responses.response_id,
        question_map.role,
        question_map.field_kind,
        question_map.field,
        rank() over (
            partition by responses.source, responses.response_id, question_map.role
            order by question_map.survey_id is null
        ) as preference

    from responses
    inner join question_map
        on
            responses.source = question_map.source
            and (question_map.survey_id is null or responses.survey_id = question_map.survey_id)

),

mapped_answers as (

    select
        applicable_fields.source,
        applicable_fields.response_id,
        applicable_fields.role,
        answer_fields.score,
        answer_fields.field_value

    from applicable_fields
    inner join answer_fields
        on
            applicable_fields.source = answer_fields.source
            and applicable_fields.response_id = answer_fields.response_id
            and applicable_fields.field_kind = answer_fields.field_kind
            and applicable_fields.field = answer_fields.field
    where applicable_fields.preference = 1

),

-- A score outside its scale is no answer; several different scores for one question are ambiguous
-- and count as none.
pivoted as (

    select
        source,
        response_id,
        case
            when count(distinct score) filter (where role = 'csat' and score between 1 and 5) = 1
                then min(score) filter (where role = 'csat' and score between 1 and 5)
        end as csat_score,
        case
            when count(distinct score) filter (where role = 'nps' and score between 0 and 10) = 1
                then min(score) filter (where role = 'nps' and score between 0 and 10)
        end as nps_score,
        case
            when count(distinct field_value) filter (where role = 'account_id') = 1
                then trim(min(field_value) filter (where role = 'account_id'))
        end as account_reference

    from mapped_answers
    group by source, response_id

),

referenced as (

    select
        *,
        case
            when length(account_reference) in (15, 18) then left(account_reference, 15)
        end as account_reference_15

    from pivoted

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
        responses.response_id,
        responses.source,
        responses.survey_id,
        coalesce(account_owners.account_id, nullif(referenced.account_reference, '')) as account_id,
        account_owners.department,
        responses.created_at,
        responses.is_completed,
        referenced.csat_score,
        referenced.nps_score

    from responses
    left join referenced
        on
            responses.source = referenced.source
            and responses.response_id = referenced.response_id
    left join account_owners
        on referenced.account_reference_15 = account_owners.account_id_15

)

select * from final
