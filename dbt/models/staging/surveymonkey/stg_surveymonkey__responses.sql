with

source as (

    select * from {{ source('surveymonkey', 'responses') }}

),

renamed as (

    select
        id as response_id,
        survey_id,
        nullif(trim(collector_id), '') as collector_id,
        lower(nullif(trim(response_status), '')) as response_status,
        coalesce(lower(trim(response_status)) = 'completed', false) as is_completed,
        {{ to_utc('coalesce(created_at, date_created)') }} as created_at,
        {{ to_utc('coalesce(modified_at, date_modified)') }} as modified_at,
        _load_id as load_id

    from source

)

select * from renamed
