{#-
    HMAC-SHA256 of an identifier with the organisation's key, as hex: the only person identifier
    that leaves staging. The key is read from svw_private.pseudonym_key (written by the setup from
    SVW_PSEUDONYM_KEY) as RFC 2104 inner/outer pads, so it never appears in compiled SQL.
    `key_table` is the relation alias of that source, joined by the caller.
-#}
{% macro person_key(identifier, key_table='pseudonym_key') -%}
    encode(
        sha256(
            {{ key_table }}.outer_key
            || sha256({{ key_table }}.inner_key || convert_to({{ identifier }}, 'UTF8'))
        ),
        'hex'
    )
{%- endmacro %}
