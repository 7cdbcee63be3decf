{#-
    The survey responses an incremental build of int_survey_response_fields redoes: every response
    with a row loaded after `since_load_id`, the response itself or any of its answers (SurveyMonkey
    answers; its custom variables are columns of the response row; Qualtrics export fields). Read
    before the model's query runs and returned as constants, {'surveymonkey': [...], 'qualtrics':
    [...]}, so the filters reach the raw tables' indexes (BRIN on _load_id here, the response id
    keys in the model), as changed_senders does for int_messages.
-#}
{% macro redone_survey_responses(since_load_id) -%}
    {%- set query -%}
        select 'surveymonkey', response_id from {{ ref('stg_surveymonkey__responses') }}
        where load_id > {{ since_load_id }}
        union
        select 'surveymonkey', response_id from {{ ref('stg_surveymonkey__answers') }}
        where load_id > {{ since_load_id }}
        union
        select 'qualtrics', response_id from {{ ref('stg_qualtrics__responses') }}
        where load_id > {{ since_load_id }}
        union
        select 'qualtrics', response_id from {{ ref('stg_qualtrics__answers') }}
        where load_id > {{ since_load_id }}
    {%- endset -%}
    {%- set redone = {'surveymonkey': [], 'qualtrics': []} -%}
    {%- for row in run_query(query).rows if row[1] is not none -%}
        {%- do redone[row[0]].append(row[1]) -%}
    {%- endfor -%}
    {{- return(redone) -}}
{%- endmacro %}

{#-
    A condition on a response id column: in a full build always true; in an incremental build,
    true for the responses of `source` in `redone` (redone_survey_responses).
-#}
{% macro is_redone_response(column, source, redone) -%}
    {%- if redone is none -%}
        true
    {%- else -%}
        {{ sent_by(column, redone[source]) }}
    {%- endif -%}
{%- endmacro %}
