{#-
    dbt's delete+insert, after an `analyze` of the new rows' temporary table. Without statistics,
    Postgres guesses that table holds 200 distinct keys and deletes by reading the whole target:
    int_activity_days' delete of 4 days read all 6.5 million rows at L (2.4 s alone, 8.6 s in a
    build) where the activity_date index finds 76,000.
-#}
{% macro postgres__get_delete_insert_merge_sql(target, source, unique_key, dest_columns,
                                               incremental_predicates) -%}
    {%- if unique_key %}
    analyze {{ source }};
    {%- endif %}
    {{ default__get_delete_insert_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) }}
{%- endmacro %}
