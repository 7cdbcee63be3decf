{#-
    The survey responses an incremental build of int_survey_response_fields redoes: every response
    with a row loaded after `since_load_id`, the response itself or any of its answers (SurveyMonkey
    answers; its custom variables are columns of the response row; Qualtrics export fields).
    Returned as sub-selects, {'surveymonkey': sql, 'qualtrics': sql}, that sent_by evaluates once
    per query, so compiled SQL names no response id and the filters still reach the raw tables'
    indexes (BRIN on _load_id here, the response id keys in the model), as changed_senders does
    for int_messages.
-#}
{% macro redone_survey_responses(since_load_id) -%}
    {%- set redone = {} -%}
    {%- for source in ['surveymonkey', 'qualtrics'] -%}
        {%- set query -%}
            select response_id from {{ ref('stg_' ~ source ~ '__responses') }}
            where load_id > {{ since_load_id }}
            union
            select response_id from {{ ref('stg_' ~ source ~ '__answers') }}
            where load_id > {{ since_load_id }}
        {%- endset -%}
        {%- do redone.update({source: query}) -%}
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
