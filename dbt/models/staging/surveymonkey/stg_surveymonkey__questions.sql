with

source as (

    select * from {{ source('surveymonkey', 'questions') }}

),

renamed as (

    select
        survey_id,
        id as question_id,
        nullif(page_id, '') as page_id,
        nullif(page_position, '')::integer as page_position,
        nullif(position, '')::integer as question_position,
        lower(nullif(family, '')) as question_family,
        lower(nullif(subtype, '')) as question_subtype,
        heading as question_text,
        _load_id as load_id

    from source

)

select * from renamed
