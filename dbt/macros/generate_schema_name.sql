{#- Layers live in fixed schemas (staging, core, marts) so grants and BI connections stay stable.
    The build writes the marts into a candidate schema (SVW_MARTS_SCHEMA=marts_candidate) and
    publishes them only after every test passed; without the variable dbt writes marts directly. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name == 'marts' -%}
        {{ env_var('SVW_MARTS_SCHEMA', 'marts') }}
    {%- else -%}
        {{ custom_schema_name if custom_schema_name else target.schema }}
    {%- endif -%}
{%- endmacro %}
