{#-
    The METRICS.md hashtag grammar as a PostgreSQL regular expression: '#' then a run of letters,
    digits, '_' or '-' holding at least one letter, the '#' not preceded by a letter, digit, '&' or
    '/'. The database's UTF-8 ctype makes [[:alpha:]] and [[:alnum:]] Unicode-aware. Apply it to
    NFC-normalised text so a decomposed #één is one run of letters.
-#}
{% macro hashtag_pattern() -%}
'(?<![[:alnum:]&/])#([[:alnum:]_-]*[[:alpha:]][[:alnum:]_-]*)'
{%- endmacro %}
