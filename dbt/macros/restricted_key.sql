{#-
    A keyed hash for the restricted tier: `scope` names what the value is ('message', 'opportunity',
    or a fact's own person scope), so a source id can't be looked up and a person key of one fact
    can't be joined to another's. The same key as person_key, read the same way.
-#}
{% macro restricted_key(scope, value, key_table='pseudonym_key') -%}
    {{ person_key("'" ~ scope ~ ":' || " ~ value, key_table) }}
{%- endmacro %}
