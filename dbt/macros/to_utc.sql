{#-
    A source timestamp as UTC, by the rule the loader checks it with when it lands (svw_cast, created
    by the setup: plugins/social_value/cast_rules.py): ISO 8601 with or without an offset (without
    one it is UTC), or Yammer's '2013/03/13 21:08:48 +0000'. NULL for what breaks the rule.
-#}
{% macro to_utc(column) -%}
    svw_cast.to_utc({{ column }})
{%- endmacro %}
