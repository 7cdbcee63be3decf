{#-
    The senders whose messages an incremental build of int_messages redoes besides the newly
    loaded ones: Viva Engage and Slack directory rows loaded after `since_load_id`, and senders of
    a person whose int_persons row is newer. Read before the model's query runs and returned as
    constants: a condition "new message or changed sender" with a sub-select is planned as
    matching half the messages, so every message of history would be read and parsed, where the
    raw tables' BRIN index on _load_id finds the new ones. Returns {'viva_engage': [...], 'slack': [...]}.
-#}
{% macro changed_senders(since_load_id) -%}
    {%- set query -%}
        with changed_persons as (
            select person_key from {{ ref('int_persons') }} where load_id > {{ since_load_id }}
        )
        select 'viva_engage', viva_engage_user_id from {{ ref('stg_viva_engage__users') }}
        where load_id > {{ since_load_id }} or person_key in (select person_key from changed_persons)
        union all
        select 'slack', slack_user_id from {{ ref('stg_slack__users') }}
        where load_id > {{ since_load_id }} or person_key in (select person_key from changed_persons)
    {%- endset -%}
    {%- set senders = {'viva_engage': [], 'slack': []} -%}
    {%- for row in run_query(query).rows if row[1] is not none -%}
        {%- do senders[row[0]].append(row[1]) -%}
    {%- endfor -%}
    {{- return(senders) -}}
{%- endmacro %}

{#- A condition: the sender column is one of `ids` (SQL string literals); false for none. -#}
{% macro sent_by(column, ids) -%}
    {%- if ids -%}
        {{ column }} in (
            {%- for id in ids %}'{{ id | replace("'", "''") }}'{{ ", " if not loop.last }}{% endfor -%}
        )
    {%- else -%}
        false
    {%- endif -%}
{%- endmacro %}
