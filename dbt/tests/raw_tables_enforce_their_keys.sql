{#-
    Every landing table declared with a key (a source table's `meta: {primary_key: [...]}`) has that
    primary key in Postgres, column for column: one row per table whose key is missing or other.

    The loader creates each raw table with its key as primary key (loader.ensure_table) and merges
    on it, so Postgres itself refuses a duplicate or NULL key in every row, old and new. This one
    test replaces a unique and a not-null test per key column (34 nodes of every build, which read
    the largest raw tables in full in a full build): it checks that the guarantee is in place.
-#}
{{ config(tags=['raw']) }}

with

declared as (

    {%- set tables = [] %}
    {%- if execute %}
        {%- for source in graph.sources.values() if source.config.meta.primary_key %}
            {%- do tables.append(source) %}
        {%- endfor %}
    {%- endif %}
    {%- for source in tables | sort(attribute='unique_id') %}
    select
        '{{ source.schema }}' as table_schema,
        '{{ source.identifier }}' as table_name,
        '{{ source.config.meta.primary_key | join(",") }}' as primary_key
    {{ 'union all' if not loop.last }}
    {%- else %}
    select
        null::text as table_schema,
        null::text as table_name,
        null::text as primary_key
    where false
    {%- endfor %}

),

enforced as (

    select
        namespaces.nspname as table_schema,
        tables.relname as table_name,
        string_agg(columns.attname, ',' order by keys.position) as primary_key

    from pg_catalog.pg_constraint as constraints
    inner join pg_catalog.pg_class as tables
        on constraints.conrelid = tables.oid
    inner join pg_catalog.pg_namespace as namespaces
        on tables.relnamespace = namespaces.oid
    cross join lateral unnest(constraints.conkey) with ordinality as keys (attnum, position)
    inner join pg_catalog.pg_attribute as columns
        on columns.attrelid = tables.oid and columns.attnum = keys.attnum
    where constraints.contype = 'p'
    group by namespaces.nspname, tables.relname

)

select
    declared.table_schema,
    declared.table_name,
    declared.primary_key as declared_key,
    enforced.primary_key as enforced_key

from declared
left join enforced
    on declared.table_schema = enforced.table_schema and declared.table_name = enforced.table_name
where enforced.primary_key is distinct from declared.primary_key
