{#-
    Only the custom variables the survey question map names (the account id) leave raw: the rest
    may hold anything a survey owner put there, names and emails included. Reading the seed here
    is the one join in staging, and it is a filter: which variable carries the account is
    configuration, and privacy needs the others dropped before staging.
-#}
with

source as (

    select * from {{ source('surveymonkey', 'responses') }}

),

question_map as (

    select * from {{ ref('survey_question_map') }}

),

configured_variables as (

    select distinct field as variable_name

    from question_map
    where source = 'surveymonkey' and field_kind = 'custom_variable'

),

parsed as (

    select
        id as response_id,
        survey_id,
        case
            when custom_variables ~ '^\s*\{' then custom_variables::jsonb
        end as custom_variables_json,
        _load_id as load_id

    from source

),

variables as (

    select
        parsed.response_id,
        parsed.survey_id,
        custom_variable.variable_name,
        nullif(trim(custom_variable.variable_value), '') as variable_value,
        parsed.load_id

    from parsed
    cross join
        lateral jsonb_each_text(parsed.custom_variables_json)
            as custom_variable (variable_name, variable_value)
    inner join configured_variables
        on custom_variable.variable_name = configured_variables.variable_name

)

select * from variables
