with

source as (

    select * from {{ source('surveymonkey', 'responses') }}

),

parsed as (

    select
        source.*,
        case
            when source.custom_variables ~ '^\s*\{' then source.custom_variables::jsonb
        end as custom_variables_json

    from source

),

renamed as (

    select
        id as response_id,
        survey_id,
        nullif(trim(collector_id), '') as collector_id,
        lower(nullif(trim(response_status), '')) as response_status,
        coalesce(lower(trim(response_status)) = 'completed', false) as is_completed,
        nullif(
            trim(coalesce(custom_variables_json ->> 'account_id', custom_variables_json ->> 'AccountId')), ''
        ) as account_id,
        {{ to_utc('coalesce(created_at, date_created)') }} as created_at,
        {{ to_utc('coalesce(modified_at, date_modified)') }} as modified_at,
        _load_id as load_id

    from parsed

)

select * from renamed
