{#-
    The days an incremental build of int_activity_days recomputes, found before the model's query
    runs (run_query) so that the model filters on constants: a condition with a sub-select is
    never pushed into a staging view, and the view would then compute its HMAC person key for
    every row of history (9 s of the 26 s this model took at 2,000 employees).

    Recomputed: every day from activity_lookback_days before the newest day built; every day a
    source row loaded since the last build touches (newer load_id than the table's newest); every
    day with activity of a person whose int_persons row is newer (a late directory row makes
    their earlier Graph rows and events count), and every day of a message reacted to by a Slack
    member whose row is newer. Returns none in a full build (everything is computed).
-#}
{% macro activity_recompute_window() -%}
    {%- if not (execute and is_incremental()) -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- set since_load_id = built_load_id() -%}
    {%- set query -%}
        with built as (
            select max(activity_date) - {{ var('activity_lookback_days') }} as since_date
            from {{ this }}
        ),
        changed_persons as (
            select person_key from {{ ref('int_persons') }}
            where load_id > {{ since_load_id }}
        ),
        touched_days as (
            select (created_at at time zone 'UTC')::date as activity_date
            from {{ ref('int_messages') }}
            where load_id > {{ since_load_id }}
            union
            select activity_date
            from {{ ref('int_graph_days') }}
            where load_id > {{ since_load_id }}
            union
            select activity_date
            from {{ ref('int_activity_events') }}
            where load_id > {{ since_load_id }}
            union
            select graph_days.activity_date
            from {{ ref('int_graph_days') }} as graph_days
            inner join changed_persons on graph_days.person_key = changed_persons.person_key
            union
            select events.activity_date
            from {{ ref('int_activity_events') }} as events
            inner join changed_persons on events.person_key = changed_persons.person_key
            union
            select (messages.created_at at time zone 'UTC')::date
            from {{ ref('stg_slack__message_reactions') }} as reactions
            inner join {{ ref('int_messages') }} as messages on reactions.message_id = messages.message_id
            inner join {{ ref('stg_slack__users') }} as slack_users
                on reactions.slack_user_id = slack_users.slack_user_id
            where
                slack_users.load_id > {{ since_load_id }}
                or slack_users.person_key in (select person_key from changed_persons)
        )
        select
            (select since_date from built)::text,
            (
                select string_agg(touched_days.activity_date::text, ',' order by touched_days.activity_date)
                from touched_days
                where touched_days.activity_date < (select since_date from built)
            )
    {%- endset -%}
    {%- set row = run_query(query).rows[0] -%}
    {{- return({'since_date': row[0], 'days': row[1].split(',') if row[1] else []}) -}}
{%- endmacro %}

{#-
    A condition on date_column: in an incremental build of int_activity_days, true only for the
    days being recomputed (`window`, from activity_recompute_window()); in a full build, always true.
    utc=true: date_column is a timestamptz and the days are UTC days, compared as timestamptz
    bounds so that an index on the column can find them.
-#}
{% macro activity_window(date_column, window, utc=false) -%}
    {%- if window is none or window.since_date is none -%}
        true
    {%- elif utc -%}
        ({{ date_column }} >= '{{ window.since_date }} 00:00:00+00'::timestamptz
        {%- for day in window.days %}
            or ({{ date_column }} >= '{{ day }} 00:00:00+00'::timestamptz
                and {{ date_column }} < '{{ day }} 00:00:00+00'::timestamptz + interval '24 hours')
        {%- endfor -%})
    {%- else -%}
        ({{ date_column }} >= '{{ window.since_date }}'::date
        {%- if window.days %}
            or {{ date_column }} in (
                {%- for day in window.days %}'{{ day }}'::date{{ ", " if not loop.last }}{% endfor -%}
            )
        {%- endif -%})
    {%- endif -%}
{%- endmacro %}
