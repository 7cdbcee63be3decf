{#-
    A condition on date_column: in an incremental build of int_activity_days, true only for the
    days being recomputed (the lookback window and the days touched by rows loaded since the last
    build, CTEs built and touched_days); in a full build, always true.
-#}
{% macro activity_window(date_column) -%}
    {%- if is_incremental() -%}
        ({{ date_column }} >= (select built.since_date from built)
        or {{ date_column }} in (select touched_days.activity_date from touched_days))
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
