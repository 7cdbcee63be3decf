{#-
    One row per survey response of either platform with what its answers say: the CSAT and NPS
    scores and the account reference, as the survey_question_map seed maps them (no survey's ids are
    code). int_survey_responses looks the account up on every build, so a changed account or owner
    is seen without the response being loaded again.

    Incremental (docs/incremental-builds.md): a run redoes every response with a row loaded after
    the newest load built here (macro redone_survey_responses: the response row or any of its
    answers), from all of that response's current answers, replacing its row (delete+insert on
    source, response_id). load_id is the newest load of the response and its answers, so a load of
    answers alone moves the watermark on. A change of the survey_question_map seed needs
    `dbt build --full-refresh`.

    Performance: the planner cannot estimate the seed-driven joins (applicable_fields,
    mapped_answers) and, believing `pivoted` holds one row, once chose nested loops over all
    responses × all responses (240 s at 2,000 employees). Every join is an equality, so a full
    build switches nested loops off for this model's transaction (`set local`); an incremental one
    keeps them, to find the few redone responses' answers by the raw tables' response id keys.
-#}
{{ config(
    materialized='incremental',
    unique_key=['source', 'response_id'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    indexes=[{'columns': ['source', 'response_id']}, {'columns': ['load_id']}],
    pre_hook="{{ 'select 1' if is_incremental() else 'set local enable_nestloop = off' }}",
) }}

{%- set redone = redone_survey_responses(built_load_id()) if is_incremental() else none %}

with

surveymonkey_responses as (

    select * from {{ ref('stg_surveymonkey__responses') }}
    where {{ is_redone_response('response_id', 'surveymonkey', redone) }}

),

surveymonkey_answers as (

    select * from {{ ref('stg_surveymonkey__answers') }}
    where {{ is_redone_response('response_id', 'surveymonkey', redone) }}

),

surveymonkey_variables as (

    select * from {{ ref('stg_surveymonkey__response_variables') }}
    where {{ is_redone_response('response_id', 'surveymonkey', redone) }}

),

qualtrics_responses as (

    select * from {{ ref('stg_qualtrics__responses') }}
    where {{ is_redone_response('response_id', 'qualtrics', redone) }}

),

qualtrics_answers as (

    select * from {{ ref('stg_qualtrics__answers') }}
    where {{ is_redone_response('response_id', 'qualtrics', redone) }}

),

question_map as (

    select * from {{ ref('survey_question_map') }}

),

responses as (

    select
        response_id,
        'surveymonkey' as source,
        survey_id,
        null as export_file,
        created_at,
        is_completed,
        load_id

    from surveymonkey_responses

    union all

    -- A response is created when the respondent starts it: StartDate, like SurveyMonkey's
    -- date_created (RecordedDate only comes when it is finished).
    select
        response_id,
        'qualtrics' as source,
        null as survey_id,
        export_file,
        coalesce(started_at, recorded_at, ended_at) as created_at,
        is_finished as is_completed,
        load_id

    from qualtrics_responses

),

answer_fields as (

    select
        'surveymonkey' as source,
        response_id,
        'question' as field_kind,
        question_id as field,
        choice_score as score,
        coalesce(choice_text, answer_text) as field_value,
        load_id

    from surveymonkey_answers

    union all

    select
        'surveymonkey' as source,
        response_id,
        'custom_variable' as field_kind,
        variable_name as field,
        null as score,
        variable_value as field_value,
        load_id

    from surveymonkey_variables

    union all

    select
        'qualtrics' as source,
        response_id,
        'export_field' as field_kind,
        field,
        answer_score as score,
        value as field_value,
        load_id

    from qualtrics_answers

),

-- The newest load of each response's answers, mapped or not (the watermark must pass them all).
answer_loads as (

    select
        source,
        response_id,
        max(load_id) as load_id

    from answer_fields
    group by source, response_id

),

-- Per response and role the map row that applies: one scoped to the response's survey (SurveyMonkey
-- survey_id) or export (Qualtrics export_file pattern) wins over a source-wide one.
applicable_fields as (

    select
        responses.source,
        responses.response_id,
        question_map.role,
        question_map.field_kind,
        question_map.field,
        rank() over (
            partition by responses.source, responses.response_id, question_map.role
            order by question_map.survey_id is null and question_map.export_file is null
        ) as preference

    from responses
    inner join question_map
        on
            responses.source = question_map.source
            and (question_map.survey_id is null or responses.survey_id = question_map.survey_id)
            and (
                question_map.export_file is null
                or responses.export_file like question_map.export_file
            )

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

final as (

    select
        responses.response_id,
        responses.source,
        responses.survey_id,
        responses.created_at,
        responses.is_completed,
        pivoted.csat_score,
        pivoted.nps_score,
        pivoted.account_reference,
        greatest(responses.load_id, answer_loads.load_id) as load_id

    from responses
    left join pivoted
        on
            responses.source = pivoted.source
            and responses.response_id = pivoted.response_id
    left join answer_loads
        on
            responses.source = answer_loads.source
            and responses.response_id = answer_loads.response_id

)

select * from final
