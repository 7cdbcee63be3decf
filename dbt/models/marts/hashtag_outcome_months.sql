{#-
    What BI may read of the hashtag outcomes: messages per month, registered hashtag and outcome
    type for the whole organisation, in the month the message was created. Counts for 'ALL' only,
    like metric_values' 'ALL' rows, so no department or person can be singled out.
-#}
with

hashtags as (

    select * from {{ ref('int_message_hashtags') }}

),

final as (

    select
        date_trunc('month', created_at at time zone 'UTC')::date as period_start,
        outcome_type::text as outcome_type,
        hashtag::text as hashtag,
        count(distinct message_id)::bigint as messages

    from hashtags
    where outcome_type is not null
    group by 1, 2, 3

)

select * from final
