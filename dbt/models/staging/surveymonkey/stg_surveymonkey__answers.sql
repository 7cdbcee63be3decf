with

source as (

    select * from {{ source('surveymonkey', 'answers') }}

),

renamed as (

    select
        response_id,
        survey_id,
        question_id,
        answer_key,
        nullif(row_id, '') as row_id,
        nullif(choice_id, '') as choice_id,
        nullif(other_id, '') as other_id,
        choice_text,
        row_text,
        other_text,
        text as answer_text,
        substring(choice_text from '^\s*([0-9]{1,9})(?![0-9])')::integer as choice_score,
        svw_cast.to_integer(choice_position) as choice_position,
        _load_id as load_id

    from source

)

select * from renamed
