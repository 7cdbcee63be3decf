with

source as (

    select * from {{ source('qualtrics', 'questions') }}

),

renamed as (

    select
        file as export_file,
        field,
        svw_cast.to_integer(position) as column_position,
        question_text,
        nullif(import_id, '') as import_id,
        coalesce(import_id ~ '^QID[0-9]', false) as is_question,
        _load_id as load_id

    from source

)

select * from renamed
