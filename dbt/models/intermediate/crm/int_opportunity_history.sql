{#-
    Salesforce OpportunityHistory with its time typed and indexed, for int_opportunities (when an
    opportunity first reached the quote stage) and int_business_event_months (the months holding a
    stage change): each reads typed columns instead of parsing every CreatedDate of history (the
    staging view parses the text on each read: 4.5 s of each reader at L).

    Incremental (docs/incremental-builds.md): a run takes the rows loaded after the newest load_id
    here and replaces them by opportunity_history_id (delete+insert), so a row a later load
    changed (deleted in Salesforce, say) has one row, the newest. Raw rows leave only through
    erasure, which rebuilds with --full-refresh.
-#}
{{ config(
    materialized='incremental',
    unique_key='opportunity_history_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    meta={'analyze': 'when_stale'},
    indexes=[
        {'columns': ['opportunity_history_id']}, {'columns': ['opportunity_id']}, {'columns': ['load_id']},
    ],
) }}

with

opportunity_history as (

    select * from {{ ref('stg_salesforce__opportunity_history') }}

),

final as (

    select
        opportunity_history_id,
        opportunity_id,
        stage_name,
        is_deleted,
        created_at,
        (created_at at time zone 'UTC')::date as created_date,
        load_id

    from opportunity_history
    where {{ is_newer_than_built('load_id') }}

)

select * from final
