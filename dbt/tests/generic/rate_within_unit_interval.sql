{#- Rates and shares (metric keys ending in _rate) must lie in [0, 1]. -#}
{% test rate_within_unit_interval(model, column_name) %}

select *
from {{ model }}
where metric_key like '%\_rate' and {{ column_name }} not between 0 and 1

{% endtest %}
