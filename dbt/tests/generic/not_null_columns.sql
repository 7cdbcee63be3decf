{#-
    Rows where any of `columns` is NULL, each naming its NULL columns: dbt's not_null for several
    columns of one relation in a single query. A dbt test node costs about 0.1 s of dbt's own time
    (compiling, events) besides its query, and a test of a staging view evaluates the view once
    per test; one test per relation instead of one per column took 96 nodes out of every
    build (138 column tests → 42; docs/performance.md, 2026-11-28 08:31). A not_null test with its own
    `where` stays a column test.
-#}
{% test not_null_columns(model, columns) %}

select
    concat_ws(', ',
        {%- for column in columns %}
        case when {{ column }} is null then '{{ column }}' end{{ "," if not loop.last }}
        {%- endfor %}
    ) as null_columns

from {{ model }}
where
    {%- for column in columns %}
    {{ column }} is null{{ " or" if not loop.last }}
    {%- endfor %}

{% endtest %}
