{#-
    The senders whose messages an incremental build of int_messages redoes besides the newly
    loaded ones: Viva Engage and Slack directory rows loaded after `since_load_id`, and senders of
    a person whose int_persons row is newer. Returned as sub-selects, {'viva_engage': sql,
    'slack': sql}, for sent_by: compiled SQL names no source user id, and Postgres evaluates each
    once (an InitPlan) and then matches the sender against the array like a list of constants. A
    condition "new message or changed sender" with a plain `in (select …)` is planned as matching
    half the messages, so every message of history would be read and parsed, where the raw
    tables' BRIN index on _load_id finds the new ones.
-#}
{% macro changed_senders(since_load_id) -%}
    {%- set changed_persons -%}
        select person_key from {{ ref('int_persons') }} where load_id > {{ since_load_id }}
    {%- endset -%}
    {%- set senders = {} -%}
    {%- for platform, id_column in [('viva_engage', 'viva_engage_user_id'), ('slack', 'slack_user_id')] -%}
        {%- set query -%}
            select {{ id_column }} from {{ ref('stg_' ~ platform ~ '__users') }}
            where load_id > {{ since_load_id }} or person_key in ({{ changed_persons }})
        {%- endset -%}
        {%- do senders.update({platform: query}) -%}
    {%- endfor -%}
    {{- return(senders) -}}
{%- endmacro %}

{#- A condition: the sender column is one of the ids `ids_query` (a sub-select) returns. -#}
{% macro sent_by(column, ids_query) -%}
    {{ column }} = any(array({{ ids_query }}))
{%- endmacro %}
