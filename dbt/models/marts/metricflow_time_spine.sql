{#-
    MetricFlow's time spine (dbt 1.9+ configures it in YAML: see _semantic__models.yml): one row
    per UTC day. The range is fixed and wide rather than derived from the data, so the spine never
    changes between builds and covers any history an organisation loads.
-#}
with

days as (

    select
        generate_series(
            '2010-01-01'::date,
            '2040-12-31'::date,
            interval '1 day'
        )::date as date_day

),

final as (

    select date_day

    from days

)

select * from final
