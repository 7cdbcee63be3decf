{#-
    A condition on a load_id column: in an incremental build, true for rows behind a load newer
    than the newest load_id of the model being built ({{ this }}); in a full build, always true.
-#}
{% macro is_newer_than_built(load_id_column) -%}
    {%- if is_incremental() -%}
        {{ load_id_column }} > (select coalesce(max(built.load_id), 0) from {{ this }} as built)
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
