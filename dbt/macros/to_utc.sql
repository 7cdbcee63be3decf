{#-
    Source timestamps arrive as text in several forms (ISO-8601 with Z or an offset, the Yammer REST
    form '2013/03/13 21:08:48 +0000', Salesforce's '+0000'); Postgres parses all of them. A value
    without any offset is taken as UTC rather than the session's time zone.
-#}
{% macro to_utc(column) -%}
    case
        when nullif(trim({{ column }}), '') is null then null
        when {{ column }} ~ '(Z|[+-][0-9]{2}:?[0-9]{2})$'
            then ({{ column }})::timestamptz
        else ({{ column }})::timestamp at time zone 'UTC'
    end
{%- endmacro %}
