{#-
    The org units metric_values is published for: 'ALL' plus every non-blank department of the
    intranet user directory (Viva Engage users, deleted ones included, since they count in the
    months they were registered).
-#}
with

users as (

    select * from {{ ref('stg_viva_engage__users') }}

),

departments as (

    select distinct department as org_unit
    from users
    where department is not null

),

final as (

    select 'ALL'::text as org_unit

    union all

    select org_unit from departments

)

select * from final
