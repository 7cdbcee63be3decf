{#- A suppressed row shows no number; 'ALL' is never suppressed. -#}
{% test suppression_is_complete(model, column_name) %}

select *
from {{ model }}
where
    ({{ column_name }} and (value is not null or numerator is not null or denominator is not null))
    or ({{ column_name }} and org_unit = 'ALL')

{% endtest %}
