{#-
    Data tests scoped to what an incremental build changed (docs/incremental-builds.md). dbt applies
    a test's `where` through get_where_subquery; this override adds a scope for the relations
    below, so that an incremental `dbt build` tests what it recomputed instead of all of history,
    while a full refresh (`--full-refresh`) or `--vars '{test_scope: all}'` tests every row.

    - Incremental models (incremental_models): the rows the latest build wrote. Each build writes
      its rows in one transaction, so they share the newest xmin (the inserting transaction); the
      rows it did not recompute are older and were tested by the build that wrote them. The
      models' delete+insert removes every old row with a recomputed key, so a key tested unique
      among the new rows is unique in the table. Each of these models writes exactly the rows
      whose load_id is newer than the newest it had built (is_newer_than_built and its kin), so
      the written rows are those above the newest load_id of a row of an older transaction:
      latest_build_load_id finds it through the model's load_id index, reading the new rows only
      (an xmin condition read the whole table twice per test: 2 million rows of int_messages at L).
      tests/test_incremental_facts.py checks that this is the newest transaction's rows.
    - Relations read by an incremental model (new_day_scopes): the Graph and events staging
      views, int_graph_days and int_activity_events (their tests run before int_activity_days is
      rebuilt), and int_activity_days (its tests run before the metric facts are: a row whose
      load_id is not newer than the facts' watermark was computed from the same inputs by an
      earlier build and tested then; this spares an xmin scan of 6.5 million rows at L). A test
      of each row on its own (not_null, accepted values: any test but cross_row_tests) checks
      the rows loaded after the newest load the consuming model has built, found by the raw
      table's BRIN index on _load_id or the model's load_id index. A
      uniqueness test checks every row of each day that holds such a row (days, not rows, so a
      duplicate between an old and a new row of a day is still found). The days are looked up
      first and the test filters on them as constants, so the condition reaches an index. In
      `dbt build` these tests run before the consuming model is rebuilt, so its newest load is the
      previous build's.
    - The message and opportunity staging views (new_key_scopes, with the model whose newest load
      says what is new; the raw tables' keys are enforced by their primary keys, not tested by
      row): a test of each row on its own checks the rows loaded after the consumer's newest
      load, as above; a uniqueness test checks every row
      whose key is the key of such a row, so a new row that repeats an old row's key is still
      found (two old rows were tested by an earlier build).
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set scope = incremental_test_scope(relation) -%}
    {%- if scope -%}
        {%- set where = '(' ~ where ~ ') and ' ~ scope if where else scope -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{% macro incremental_test_scope(relation) -%}
    {%- set incremental_models = [
        'int_messages', 'int_message_hashtags', 'int_posts', 'int_pain_points', 'int_message_id_tokens',
        'int_survey_response_fields', 'int_opportunity_history', 'int_salesforce_opportunities',
    ] -%}
    {%- set cross_row_tests = ['unique', 'unique_combination'] -%}
    {%- set new_day_scopes = {
        'stg_msgraph__yammer_user_activity_days': ('activity_date', 'int_graph_days'),
        'stg_activity_events__events': ("(occurred_at at time zone 'UTC')::date", 'int_activity_events'),
        'int_graph_days': ('activity_date', 'int_activity_days'),
        'int_activity_events': ('activity_date', 'int_activity_days'),
        'int_activity_days': ('activity_date', 'int_intranet_metric_facts'),
    } -%}
    {%- set new_key_scopes = {
        'stg_viva_engage__messages': 'int_messages',
        'stg_slack__messages': 'int_messages',
        'stg_slack__message_reactions': 'int_activity_days',
        'stg_salesforce__opportunity_history': 'int_opportunity_history',
        'stg_salesforce__opportunities': 'int_salesforce_opportunities',
    } -%}
    {%- if not execute or flags.FULL_REFRESH or var('test_scope', 'changed') == 'all'
        or relation.identifier is none -%}
        {{- return('') -}}
    {%- endif -%}
    {%- if relation.identifier in incremental_models -%}
        {{- return('load_id > ' ~ latest_build_load_id(relation)) -}}
    {%- endif -%}
    {%- set consumer_name = new_key_scopes.get(relation.identifier) -%}
    {%- if consumer_name -%}
        {%- set consumer = adapter.get_relation(database=relation.database, schema='core',
                                                identifier=consumer_name) -%}
        {%- if consumer is none -%}
            {{- return('') -}}
        {%- endif -%}
        {%- set since = run_query('select coalesce(max(load_id), 0) from ' ~ consumer).rows[0][0] | int -%}
        {%- set test = model.test_metadata if model is defined and model.test_metadata is defined else none -%}
        {%- if test is none -%}
            {{- return('') -}}
        {%- elif test.name not in cross_row_tests -%}
            {{- return('load_id > ' ~ since) -}}
        {%- endif -%}
        {%- set columns = test.kwargs.columns if test.name == 'unique_combination' else [test.kwargs.column_name] -%}
        {%- set key = '(' ~ columns | join(', ') ~ ')' -%}
        {{- return(key ~ ' in (select ' ~ columns | join(', ') ~ ' from ' ~ relation
                   ~ ' where load_id > ' ~ since ~ ')') -}}
    {%- endif -%}
    {%- if relation.identifier in new_day_scopes -%}
        {%- set date_expression, consumer_name = new_day_scopes[relation.identifier] -%}
        {%- set consumer = adapter.get_relation(database=relation.database, schema='core',
                                                identifier=consumer_name) -%}
        {%- if consumer is none -%}
            {{- return('') -}}
        {%- endif -%}
        {#- The consumer's newest load as a constant, so the raw table's BRIN index finds the rows. -#}
        {%- set since = run_query('select coalesce(max(load_id), 0) from ' ~ consumer).rows[0][0] | int -%}
        {#- A test of each row on its own (not_null, accepted values, ...) needs the new rows only. -#}
        {%- set test = model.test_metadata if model is defined and model.test_metadata is defined else none -%}
        {%- if test is not none and test.name not in cross_row_tests -%}
            {{- return('load_id > ' ~ since) -}}
        {%- endif -%}
        {%- set days_query -%}
            select distinct ({{ date_expression }})::text from {{ relation }}
            where load_id > {{ since }}
            order by 1
        {%- endset -%}
        {%- set days = run_query(days_query).columns[0].values() | list -%}
        {%- if not days -%}
            {{- return('false') -}}
        {%- endif -%}
        {%- set literals = [] -%}
        {%- for day in days -%}
            {%- do literals.append("'" ~ day ~ "'::date") -%}
        {%- endfor -%}
        {{- return('(' ~ date_expression ~ ') in (' ~ literals | join(', ') ~ ')') -}}
    {%- endif -%}
    {{- return('') -}}
{%- endmacro %}

{#-
    The newest load_id among the rows of an incremental model that its latest build did not write
    (0 if it wrote them all), so that `load_id > latest_build_load_id(relation)` is the latest
    build's rows. The row with the newest load_id names the latest transaction (xmin); walking the
    load_id index down from it, the first row of another transaction has the answer.
-#}
{% macro latest_build_load_id(relation) -%}
    {%- set newest = run_query('select xmin::text from ' ~ relation
                               ~ ' where load_id is not null order by load_id desc limit 1') -%}
    {%- if not newest.rows -%}
        {{- return(0) -}}
    {%- endif -%}
    {%- set older = run_query('select coalesce(max(load_id), 0) from ' ~ relation
                              ~ " where not xmin = '" ~ newest.rows[0][0] ~ "'::xid") -%}
    {{- return(older.rows[0][0] | int) -}}
{%- endmacro %}
