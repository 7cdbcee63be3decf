{#-
    One row per metric of the metric_sources seed: whether any source that feeds it has data
    (int_source_coverage). A metric none of whose sources landed a row is not measured:
    metric_values publishes it as NULL rather than 0, and the reports say which sources are missing.
-#}
with

metric_sources as (

    select * from {{ ref('metric_sources') }}

),

source_coverage as (

    select * from {{ ref('int_source_coverage') }}

),

final as (

    select
        metric_sources.metric_key,
        bool_or(coalesce(source_coverage.has_data, false)) as is_measured,
        string_agg(metric_sources.source, ', ' order by metric_sources.source) as sources

    from metric_sources
    left join source_coverage
        on metric_sources.source = source_coverage.source
    group by metric_sources.metric_key

)

select * from final
