{#- Net promoter score: %promoters − %detractors, so within [−100, 100]. -#}
{% test nps_within_range(model, column_name) %}

select *
from {{ model }}
where metric_key = 'nps' and {{ column_name }} not between -100 and 100

{% endtest %}
