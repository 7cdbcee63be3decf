with

source as (

    select * from {{ source('qualtrics', 'answers') }}

),

renamed as (

    select
        "ResponseId" as response_id,
        field,
        value,
        substring(value from '^\s*([0-9]{1,9})(?![0-9])')::integer as answer_score,
        _load_id as load_id

    from source

)

select * from renamed
