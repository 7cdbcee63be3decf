{#-
    The reporting settings: each a dbt var (`--vars`) or, when the var is empty, an environment
    variable, so a deployment sets them where it sets its other SVW_* settings. Read through
    macros rather than as env_var() defaults in dbt_project.yml: a project var that changes makes
    dbt parse the whole project again, an environment variable read here only the models using it.
-#}

{#- The first day of the first month metric_values reports (YYYY-MM-DD), or none: from the first
    month holding an event. -#}
{% macro reporting_start() -%}
    {%- set raw = (var('reporting_start', '') or env_var('SVW_REPORTING_START', '')) | string | trim -%}
    {%- if raw in ('', 'None') -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', raw) -%}
        {{ exceptions.raise_compiler_error("reporting_start (var or SVW_REPORTING_START) must be a date YYYY-MM-DD, not '" ~ raw ~ "'") }}
    {%- endif -%}
    {{- return(raw) -}}
{%- endmacro %}

{#- How many months without activity (the month itself included) and without registration end a
    person's registration in the metrics (int_intranet_metric_facts), or none: never. -#}
{% macro dormant_after_months() -%}
    {%- set raw = (var('dormant_after_months', '') or env_var('SVW_DORMANT_AFTER_MONTHS', '')) | string | trim -%}
    {%- if raw in ('', 'None') -%}
        {{- return(none) -}}
    {%- endif -%}
    {%- if not modules.re.fullmatch('[0-9]+', raw) or raw | int < 1 -%}
        {{ exceptions.raise_compiler_error("dormant_after_months (var or SVW_DORMANT_AFTER_MONTHS) must be a positive whole number of months, not '" ~ raw ~ "'") }}
    {%- endif -%}
    {{- return(raw | int) -}}
{%- endmacro %}

{#- A condition on a registered person (`persons`: person_key, registered_from) in the month
    starting at `period_start`: true when `months` is none; else they were active (`activity_days`:
    person_key, activity_date, actions) or registered in that month or the `months` - 1 before. -#}
{% macro not_dormant(persons, activity_days, period_start, months) -%}
    {%- if months is none -%}
        true
    {%- else -%}
        (
            {{ persons }}.registered_from >= {{ period_start }} - interval '{{ months - 1 }} months'
            or exists (
                select 1
                from {{ activity_days }} as recent
                where
                    recent.person_key = {{ persons }}.person_key
                    and recent.actions > 0
                    and recent.activity_date >= {{ period_start }} - interval '{{ months - 1 }} months'
                    and recent.activity_date < {{ period_start }} + interval '1 month'
            )
        )
    {%- endif -%}
{%- endmacro %}
