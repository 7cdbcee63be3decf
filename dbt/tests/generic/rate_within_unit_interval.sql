{#- Rates and shares (adoption_rate, win_rate_social, csat, ...) must lie in [0, 1]. -#}
{% test rate_within_unit_interval(model, column_name) %}

select *
from {{ model }}
where
    (metric_key like '%\_rate' or metric_key like '%\_rate\_%' or metric_key = 'csat')
    and {{ column_name }} not between 0 and 1

{% endtest %}
