{#- Layers live in fixed schemas (staging, core, marts) so grants and BI connections stay stable. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name else target.schema }}
{%- endmacro %}
