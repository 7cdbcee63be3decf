with

source as (

    select * from {{ source('qualtrics', 'responses') }}

),

renamed as (

    select
        "ResponseId" as response_id,
        regexp_replace(_origin, ':[0-9]+$', '') as export_file,
        coalesce(svw_cast.to_boolean("Finished"), false) as is_finished,
        nullif(trim("Status"), '') as response_type,
        svw_cast.to_number("Progress") as progress_percent,
        svw_cast.to_number("Duration (in seconds)") as duration_seconds,
        lower(nullif(trim("DistributionChannel"), '')) as distribution_channel,
        nullif(trim("UserLanguage"), '') as user_language,
        {{ to_utc('coalesce(start_at, "StartDate")') }} as started_at,
        {{ to_utc('coalesce(end_at, "EndDate")') }} as ended_at,
        {{ to_utc('coalesce(recorded_at, "RecordedDate")') }} as recorded_date_at,
        _load_id as load_id

    from source

),

-- Legacy exports have no RecordedDate: the response is dated by EndDate, else StartDate, and
-- recorded_at_source says which.
final as (

    select
        response_id,
        export_file,
        is_finished,
        response_type,
        progress_percent,
        duration_seconds,
        distribution_channel,
        user_language,
        started_at,
        ended_at,
        coalesce(recorded_date_at, ended_at, started_at) as recorded_at,
        case
            when recorded_date_at is not null then 'RecordedDate'
            when ended_at is not null then 'EndDate'
            when started_at is not null then 'StartDate'
        end as recorded_at_source,
        load_id

    from renamed

)

select * from final
