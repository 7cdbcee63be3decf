{#-
    In an incremental build of int_activity_days, keep only the days being recomputed: the
    lookback window and the days touched by rows loaded since the last build (CTE touched_days).
    In a full build, keep everything.
-#}
{% macro activity_window(date_column) -%}
    {%- if is_incremental() %}
        where
            {{ date_column }} >= (select built.since_date from built)
            or {{ date_column }} in (select touched_days.activity_date from touched_days)
    {%- endif %}
{%- endmacro %}
