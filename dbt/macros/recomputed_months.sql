{#-
    The months an incremental build of int_intranet_metric_facts recomputes, read before the
    model's query runs (run_query) and returned as ranges of constants, so that its filters reach
    the activity_date and created_at indexes of its inputs. As a sub-select (a CTE the filters
    joined) Postgres planned every month as a match and read all of history: int_activity_days'
    6.5 million rows at L, 27 s of the model's 28.

    Recomputed: each month holding a row of int_activity_days, int_messages, int_posts or
    int_pain_points newer than `since_load_id` (with dormant_after_months N, an activity month's
    N - 1 following months too: it keeps its person registered there); every month from the registration of a person
    whose int_persons row is newer; every month when a group changed or an org unit appeared or
    disappeared. Returns none in a full build (everything is computed), else a list of
    [first day, first day after] pairs, adjacent months merged.
-#}
{% macro metric_recompute_months(since_load_id) -%}
    {%- if not (execute and is_incremental()) -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set query -%}
        with recomputed_months as (
            {%- if dormant_after_months() %}
            {#- activity keeps its person registered in the dormant_after_months - 1 after too #}
            select distinct generate_series(
                date_trunc('month', activity_date),
                date_trunc('month', activity_date) + interval '{{ dormant_after_months() - 1 }} months',
                interval '1 month'
            )::date as period_start
            from {{ ref('int_activity_days') }} where load_id > {{ since_load_id }}
            {%- else %}
            select date_trunc('month', activity_date)::date as period_start
            from {{ ref('int_activity_days') }} where load_id > {{ since_load_id }}
            {%- endif %}
            union
            select date_trunc('month', created_at at time zone 'UTC')::date
            from {{ ref('int_messages') }} where load_id > {{ since_load_id }}
            union
            select date_trunc('month', created_at at time zone 'UTC')::date
            from {{ ref('int_posts') }} where load_id > {{ since_load_id }}
            union
            select date_trunc('month', created_at at time zone 'UTC')::date
            from {{ ref('int_pain_points') }} where load_id > {{ since_load_id }}
            union
            select periods.period_start from {{ ref('int_metric_periods') }} as periods
            where periods.period_start >= (
                select min(date_trunc('month', persons.registered_from at time zone 'UTC'))::date
                from {{ ref('int_persons') }} as persons
                where persons.load_id > {{ since_load_id }}
            )
            union
            select periods.period_start from {{ ref('int_metric_periods') }} as periods
            where
                exists (select 1 from {{ ref('int_groups') }} where load_id > {{ since_load_id }})
                or exists (
                    select org_unit from {{ ref('int_org_units') }}
                    except
                    select org_unit from {{ this }}
                )
                or exists (
                    select org_unit from {{ this }}
                    except
                    select org_unit from {{ ref('int_org_units') }}
                )
        )
        select period_start::text, (period_start + interval '1 month')::date::text
        from recomputed_months
        where period_start is not null
        order by 1
    {%- endset -%}
    {%- set ranges = [] -%}
    {%- for row in run_query(query).rows -%}
        {%- if ranges and ranges[-1][1] == row[0] -%}
            {%- set merged = ranges.pop() -%}
            {%- do ranges.append([merged[0], row[1]]) -%}
        {%- else -%}
            {%- do ranges.append([row[0], row[1]]) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(ranges) -}}
{%- endmacro %}

{#-
    A condition for int_intranet_metric_facts: `column` (a date, or with utc=true a timestamptz
    whose UTC month counts) lies in one of the recomputed `months` (metric_recompute_months());
    always true in a full build (months none), false when nothing is recomputed.
-#}
{% macro in_recomputed_months(column, months, utc=false) -%}
    {%- if months is none -%}
        true
    {%- elif not months -%}
        false
    {%- else -%}
        {%- set type = "timestamptz" if utc else "date" -%}
        {%- set suffix = " 00:00:00+00" if utc else "" -%}
        (
        {%- for first, after in months %}
            ({{ column }} >= '{{ first ~ suffix }}'::{{ type }} and {{ column }} < '{{ after ~ suffix }}'::{{ type }})
            {%- if not loop.last %} or{% endif %}
        {%- endfor %}
        )
    {%- endif -%}
{%- endmacro %}
