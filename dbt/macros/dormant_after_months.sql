{#-
    The dormant_after_months var as a positive integer, or none when unset (empty): how many
    months without activity (the month itself included) end a person's registration in the
    metrics (int_intranet_metric_facts). A value that is not a positive integer stops the build.
-#}
{% macro dormant_after_months() -%}
    {%- set raw = var('dormant_after_months') | string | trim -%}
    {%- if raw in ('', 'None') -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- if not modules.re.fullmatch('[0-9]+', raw) or raw | int < 1 -%}
        {{ exceptions.raise_compiler_error("var dormant_after_months must be a positive whole number of months, not '" ~ raw ~ "'") }}
    {%- endif -%}
    {{- return(raw | int) -}}
{%- endmacro %}
