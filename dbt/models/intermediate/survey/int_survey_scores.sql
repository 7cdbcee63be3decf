{#-
    The answers csat and nps are computed from, one row per answered response and metric: the
    customer-satisfaction scorecard and the level-5 metrics both aggregate this model, so they
    cannot disagree. A response counts in the month it was created. Choice: METRICS.md defines
    csat and nps over answers, so an answer in a partial (not completed) response counts too;
    survey_responses alone counts completed responses only.
-#}
with

survey_responses as (

    select * from {{ ref('int_survey_responses') }}

),

answered as (

    select * from survey_responses

),

scores as (

    select
        response_id,
        source,
        account_id,
        department,
        created_at,
        'csat' as metric_key,
        csat_score as score,
        case when csat_score >= 4 then 1 else 0 end as numerator_part

    from answered
    where csat_score is not null

    union all

    select
        response_id,
        source,
        account_id,
        department,
        created_at,
        'nps' as metric_key,
        nps_score as score,
        case when nps_score >= 9 then 1 when nps_score <= 6 then -1 else 0 end as numerator_part

    from answered
    where nps_score is not null

),

final as (

    select
        *,
        date_trunc('month', created_at at time zone 'UTC')::date as period_start

    from scores

)

select * from final
