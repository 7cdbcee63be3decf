{#-
    Which sources have landed data, for BI and the reports: a missing source's metrics are NULL
    in metric_values (int_metric_coverage), not 0.
-#}
with

source_coverage as (

    select * from {{ ref('int_source_coverage') }}

),

metric_sources as (

    select * from {{ ref('metric_sources') }}

),

fed_metrics as (

    select
        source,
        array_agg(metric_key order by metric_key) as metric_keys

    from metric_sources
    group by source

),

final as (

    select
        source_coverage.source::text as source,
        source_coverage.source_name::text as source_name,
        source_coverage.has_data::boolean as has_data,
        coalesce(fed_metrics.metric_keys, '{}')::text[] as metric_keys

    from source_coverage
    left join fed_metrics
        on source_coverage.source = fed_metrics.source

)

select * from final
