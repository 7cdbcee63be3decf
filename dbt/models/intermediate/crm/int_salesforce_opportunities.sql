{#-
    Salesforce opportunities, deleted ones included, with their amounts, dates and flags typed and
    the Id's 15-character form indexed, for int_opportunities, int_message_opportunity_references
    and int_salesforce_projects: each reads typed rows instead of parsing three timestamps of every
    opportunity (the staging view parses the text on each read: 1.5 s of each reader at L).

    Incremental (docs/incremental-builds.md): a run takes the opportunities loaded after the newest
    load_id here and replaces them by opportunity_id (delete+insert), so an opportunity a later load
    changed (its stage, amount or IsDeleted) has one row, the newest. Raw rows leave only through
    erasure, which rebuilds with --full-refresh.
-#}
{{ config(
    materialized='incremental',
    unique_key='opportunity_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    indexes=[
        {'columns': ['opportunity_id']}, {'columns': ['opportunity_id_15']}, {'columns': ['load_id']},
    ],
) }}

with

opportunities as (

    select * from {{ ref('stg_salesforce__opportunities') }}

),

final as (

    select *

    from opportunities
    where {{ is_newer_than_built('load_id') }}

)

select * from final
