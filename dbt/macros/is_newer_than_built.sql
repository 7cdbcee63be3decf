{#-
    The newest load_id in a built model (default: the one being built), read before the model's
    query runs, or 0 in a full build. Filters compare with this constant rather than with a
    sub-select: Postgres plans a sub-select's value as unknown (a third of the rows), so it would
    read all of history even where an index (the raw tables' BRIN on _load_id, the incremental
    models' load_id indexes) finds the few new rows.
-#}
{% macro built_load_id(relation=none) -%}
    {%- if not (execute and is_incremental()) -%}
        {{- return(0) -}}
    {%- endif -%}
    {%- set row = run_query('select coalesce(max(load_id), 0) from ' ~ (relation or this)).rows[0] -%}
    {{- return(row[0] | int) -}}
{%- endmacro %}

{#-
    A condition on a load_id column: in an incremental build, true for rows behind a load newer
    than the newest load_id of the model being built ({{ this }}); in a full build, always true.
-#}
{% macro is_newer_than_built(load_id_column) -%}
    {%- if is_incremental() -%}
        {{ load_id_column }} > {{ built_load_id() }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
