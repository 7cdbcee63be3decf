{#-
    One row per source: whether it has landed anything. A source is missing while its landing
    tables hold no row (its staging models are empty): nothing arrived yet, or the organisation
    does not use it. A source that once landed rows stays covered, however old they are.
    metric_values publishes a metric as NULL while every source that feeds it is missing
    (int_metric_coverage). exists() reads one row of each staging view, not the table.
-#}
with

viva_engage_users as (

    select * from {{ ref('stg_viva_engage__users') }}

),

viva_engage_messages as (

    select * from {{ ref('stg_viva_engage__messages') }}

),

graph_activity_days as (

    select * from {{ ref('stg_msgraph__yammer_user_activity_days') }}

),

slack_users as (

    select * from {{ ref('stg_slack__users') }}

),

slack_messages as (

    select * from {{ ref('stg_slack__messages') }}

),

activity_events as (

    select * from {{ ref('stg_activity_events__events') }}

),

salesforce_opportunities as (

    select * from {{ ref('stg_salesforce__opportunities') }}

),

surveymonkey_responses as (

    select * from {{ ref('stg_surveymonkey__responses') }}

),

qualtrics_responses as (

    select * from {{ ref('stg_qualtrics__responses') }}

),

final as (

    select
        source,
        source_name,
        has_data

    from (
        values
        (
            'viva_engage', 'Viva Engage',
            exists (select 1 from viva_engage_users) or exists (select 1 from viva_engage_messages)
        ),
        ('msgraph', 'Microsoft Graph activity reports', exists (select 1 from graph_activity_days)),
        (
            'slack', 'Slack',
            exists (select 1 from slack_users) or exists (select 1 from slack_messages)
        ),
        ('activity_events', 'activity events', exists (select 1 from activity_events)),
        ('salesforce', 'Salesforce', exists (select 1 from salesforce_opportunities)),
        ('surveymonkey', 'SurveyMonkey', exists (select 1 from surveymonkey_responses)),
        ('qualtrics', 'Qualtrics', exists (select 1 from qualtrics_responses))
    ) as coverage (source, source_name, has_data)

)

select * from final
