{#-
    One row per person. A person is registered in a period when they joined before it ends and
    were not deleted or suspended before it starts (METRICS.md): registered_until is the earlier
    of deletion and suspension.
-#}
with

users as (

    select * from {{ ref('stg_viva_engage__users') }}

),

persons as (

    select
        person_key,
        -- One directory row per person today; with several platforms the most recent join wins.
        (array_agg(department order by joined_at desc nulls last))[1] as department,
        min(joined_at) as registered_from,
        max(least(deleted_at, suspended_at)) as registered_until

    from users
    group by person_key

)

select * from persons
