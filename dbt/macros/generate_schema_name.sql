{#- Layers live in fixed schemas (staging, core, marts, restricted) so grants and BI connections
    stay stable. The build writes the published tiers into candidate schemas
    (SVW_MARTS_SCHEMA=marts_candidate, SVW_RESTRICTED_SCHEMA=restricted_candidate) and publishes
    them only after every test passed; without the variables dbt writes the live schemas. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name == 'marts' -%}
        {{ env_var('SVW_MARTS_SCHEMA', 'marts') }}
    {%- elif custom_schema_name == 'restricted' -%}
        {{ env_var('SVW_RESTRICTED_SCHEMA', 'restricted') }}
    {%- else -%}
        {{ custom_schema_name if custom_schema_name else target.schema }}
    {%- endif -%}
{%- endmacro %}
