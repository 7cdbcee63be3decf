with

source as (

    select * from {{ source('surveymonkey', 'questions') }}

),

renamed as (

    select
        survey_id,
        id as question_id,
        nullif(page_id, '') as page_id,
        svw_cast.to_integer(page_position) as page_position,
        svw_cast.to_integer(position) as question_position,
        lower(nullif(family, '')) as question_family,
        lower(nullif(subtype, '')) as question_subtype,
        heading as question_text,
        _load_id as load_id

    from source

)

select * from renamed
