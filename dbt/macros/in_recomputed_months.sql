{#-
    A condition on a date or timestamp (UTC wall time) for int_intranet_metric_facts: in an
    incremental build true only within the months being recomputed (CTE recomputed_months); in a
    full build always true.
-#}
{% macro in_recomputed_months(date_expression) -%}
    {%- if is_incremental() -%}
        date_trunc('month', {{ date_expression }})::date in (
            select recomputed_months.period_start from recomputed_months
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
