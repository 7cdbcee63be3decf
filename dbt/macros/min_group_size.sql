{#- The suppression threshold: METRICS.md allows raising it, never lowering it below 5. -#}
{% macro min_group_size() -%}
    {%- set size = var('min_group_size') | int -%}
    {%- if size < 5 -%}
        {{ exceptions.raise_compiler_error("min_group_size is " ~ size ~ ": it may only be raised above the default 5") }}
    {%- endif -%}
    {{ size }}
{%- endmacro %}
