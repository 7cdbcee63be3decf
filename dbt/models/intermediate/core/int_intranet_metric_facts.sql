{#-
    The intranet metrics of levels 1–5 (METRICS.md) for every month of int_metric_periods and every
    org unit, in metric_values' shape but before suppression.

    How each thing is attributed:
    - 'ALL' counts everything; a department row counts what its people did, what its groups hold,
      and threads it wrote in. A person without a department counts in 'ALL' only.
    - Cohorts: answered questions, responded posts and resolved pain points count in the month
      their question, post or pain point was created, however much later the outcome came.
    - likes, reads and downloads in 'ALL' include activity that reaches no person (concealed Graph
      names, unknown emails); actions_per_active_user in 'ALL' therefore includes it too.
    - Counts have numerator and denominator NULL; ratios have value = numerator / denominator and
      NULL over a zero denominator; medians are percentile_cont(0.5) with numerator NULL and the
      number of items as denominator.

    Incremental (docs/incremental-builds.md): metric rows are per month, and every measure of a
    month depends only on that month's items, so a run recomputes whole months (delete+insert on
    period_start): each month holding a row of int_activity_days, int_messages, int_posts or
    int_pain_points newer (load_id) than this table's watermark — late data and cohort outcomes
    (a late answer is a newer int_posts row in its question's month) included — every month from
    the registration of a person whose int_persons row is newer, and every month when a group
    changed or an org unit appeared or disappeared. load_id is the watermark: the newest load
    behind any input when the row was built (bookkeeping; a full refresh gives every month the
    latest). A registry, variable or logic change needs `dbt build --full-refresh`.

    Accounts that never leave: with the dormant_after_months var set to N, a person counts as
    registered in a month only if they were active (any post, reply, like, read or download) or
    registered in that month or the N - 1 before it; a dormant workspace then stops holding
    adoption down. Unset (the default), registered is METRICS.md's definition alone.
-#}
{{ config(
    materialized='incremental',
    unique_key='period_start',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
) }}
{%- set since_load_id = built_load_id() %}
{%- set months = metric_recompute_months(since_load_id) %}
{%- set dormant_after = dormant_after_months() %}

with

periods as not materialized (

    select * from {{ ref('int_metric_periods') }}

),

org_units as not materialized (

    select * from {{ ref('int_org_units') }}

),

persons as not materialized (

    select * from {{ ref('int_persons') }}

),

person_activity_days as not materialized (

    select * from {{ ref('int_activity_days') }}

),

messages as not materialized (

    select * from {{ ref('int_messages') }}

),

groups as not materialized (

    select * from {{ ref('int_groups') }}

),

posts as not materialized (

    select * from {{ ref('int_posts') }}

),

hashtags as (

    select * from {{ ref('int_message_hashtags') }}

),

pain_points as not materialized (

    select * from {{ ref('int_pain_points') }}

),


scoped_periods as (

    select * from periods
    where {{ in_recomputed_months('periods.period_start', months) }}

),

scoped_messages as (

    select * from messages
    where {{ in_recomputed_months('messages.created_at', months, utc=true) }}

),

scoped_posts as (

    select * from posts
    where {{ in_recomputed_months('posts.created_at', months, utc=true) }}

),

scoped_pain_points as (

    select * from pain_points
    where {{ in_recomputed_months('pain_points.created_at', months, utc=true) }}

),

-- The newest load behind any input: the watermark the next incremental run starts from.
input_load_ids as (

    select max(person_activity_days.load_id) as load_id from person_activity_days
    union all
    select max(messages.load_id) from messages
    union all
    select max(posts.load_id) from posts
    union all
    select max(pain_points.load_id) from pain_points
    union all
    select max(persons.load_id) from persons
    union all
    select max(groups.load_id) from groups

),

activity_days as (

    select
        person_activity_days.*,
        persons.department

    from person_activity_days
    left join persons
        on person_activity_days.person_key = persons.person_key
    where {{ in_recomputed_months('person_activity_days.activity_date', months) }}

),

-- Things counted once each (persons, groups, threads, messages): measure, month, department, key.
-- Person-day rows are made distinct per month first: counted's count(distinct) then sorts a
-- month's persons instead of a month's person-days (at L, 1.7 million rows, 10 s).
registered_users as (

    select
        'registered_users' as measure,
        periods.period_start,
        persons.department,
        persons.person_key as item_key

    from scoped_periods as periods
    inner join persons
        on
            persons.registered_from < periods.period_start + interval '1 month'
            and (persons.registered_until is null or periods.period_start <= persons.registered_until)
            and {{ not_dormant('persons', 'person_activity_days', 'periods.period_start', dormant_after) }}

),

-- One row per person (NULL: activity of no person) and month, from one hash aggregate of the
-- month's person-days, which are read once: active_users, contributing_users and
-- active_departments each sorted the person-days themselves (at L, a month is 590,000 of them;
-- the recomputed month's query took 7.9 s alone, 6.9 s with one aggregate), and when
-- activity_sums read them too they were materialised for both, spilling 110 MB to disk.
person_months as (

    select
        date_trunc('month', activity_date)::date as period_start,
        department,
        person_key,
        bool_or(actions > 0) as is_active,
        bool_or(posts + replies > 0) as is_contributing,
        sum(posts) as posts,
        sum(replies) as replies,
        sum(likes) as likes,
        sum(reads) as reads,
        sum(downloads) as downloads,
        sum(actions) as actions

    from activity_days
    group by date_trunc('month', activity_date)::date, department, person_key

),

active_users as (

    select
        'active_users' as measure,
        period_start,
        department,
        person_key as item_key

    from person_months
    where is_active and person_key is not null

),

contributing_users as (

    select
        'contributing_users' as measure,
        period_start,
        department,
        person_key as item_key

    from person_months
    where is_contributing and person_key is not null

),

active_departments as (

    -- 'ALL' only: the department is the thing counted, not the row's org unit.
    select distinct
        'active_departments' as measure,
        period_start,
        null as department,
        department as item_key

    from person_months
    where is_active and person_key is not null and department is not null

),

existing_groups as (

    select
        'groups' as measure,
        periods.period_start,
        groups.department,
        groups.platform || ':' || groups.group_id as item_key

    from scoped_periods as periods
    inner join groups
        on
            groups.created_at < periods.period_start + interval '1 month'
            and (
                groups.deleted_at is null
                or groups.deleted_at >= periods.period_start + interval '1 month'
            )

),

active_groups as (

    -- Distinct here, so that counted's count(distinct) sorts groups rather than messages.
    select distinct
        'active_groups' as measure,
        date_trunc('month', messages.created_at at time zone 'UTC')::date as period_start,
        groups.department,
        groups.platform || ':' || groups.group_id as item_key

    from scoped_messages as messages
    inner join groups
        on messages.platform = groups.platform and messages.group_id = groups.group_id
    where messages.is_human

),

thread_departments as (

    select distinct
        date_trunc('month', created_at at time zone 'UTC')::date as period_start,
        platform || ':' || thread_id as thread_key,
        department

    from scoped_messages
    where is_human and department is not null

),

cross_department_thread_keys as (

    select
        period_start,
        thread_key

    from thread_departments
    group by period_start, thread_key
    having count(*) >= 2

),

cross_department_threads as (

    select
        'cross_department_threads' as measure,
        thread_departments.period_start,
        thread_departments.department,
        thread_departments.thread_key as item_key

    from thread_departments
    inner join cross_department_thread_keys
        on
            thread_departments.period_start = cross_department_thread_keys.period_start
            and thread_departments.thread_key = cross_department_thread_keys.thread_key

),

post_outcomes as (

    select
        post_outcome.measure,
        date_trunc('month', posts.created_at at time zone 'UTC')::date as period_start,
        posts.department,
        posts.message_id as item_key

    from scoped_posts as posts
    cross join
        lateral (
            values
            ('posts_created', true),
            ('responded_posts', posts.has_reply_by_other),
            ('questions', posts.is_question),
            ('answered_questions', posts.is_question and posts.has_reply_by_other)
        ) as post_outcome (measure, applies)
    where post_outcome.applies

),

tagged_messages as (

    -- Every hashtag makes a hashtag message; customer hashtags also count as their outcome. The
    -- hashtag rows carry their message's time and department (int_message_hashtags).
    select
        case
            when counted_as.measure_kind = 'any' then 'hashtag_messages'
            when hashtags.outcome_type = 'customer_impact' then 'customer_impact_messages'
            else 'customer_feedback_messages'
        end as measure,
        date_trunc('month', hashtags.created_at at time zone 'UTC')::date as period_start,
        hashtags.department,
        hashtags.message_id as item_key

    from hashtags
    cross join lateral (values ('any'), ('outcome')) as counted_as (measure_kind)
    where
        {{ in_recomputed_months('hashtags.created_at', months, utc=true) }}
        and (
            counted_as.measure_kind = 'any'
            or hashtags.outcome_type in ('customer_impact', 'customer_feedback')
        )

),

pain_point_outcomes as (

    select
        pain_point_outcome.measure,
        date_trunc('month', pain_points.created_at at time zone 'UTC')::date as period_start,
        pain_points.department,
        pain_points.message_id as item_key

    from scoped_pain_points as pain_points
    cross join
        lateral (
            values
            ('pain_points', true),
            ('pain_points_resolved', pain_points.is_resolved)
        ) as pain_point_outcome (measure, applies)
    where pain_point_outcome.applies

),

distinct_items as (

    select * from registered_users

    union all

    select * from active_users

    union all

    select * from contributing_users

    union all

    select * from active_departments

    union all

    select * from existing_groups

    union all

    select * from active_groups

    union all

    select * from cross_department_threads

    union all

    select * from post_outcomes

    union all

    select * from tagged_messages

    union all

    select * from pain_point_outcomes

),

counted as (

    select
        measure,
        period_start,
        case when grouping(department) = 1 then 'ALL' else department end as org_unit,
        count(distinct item_key)::numeric as amount

    from distinct_items
    group by grouping sets ((measure, period_start), (measure, period_start, department))
    having grouping(department) = 1 or department is not null

),

-- Summed per month and org unit from the person-months, then unpivoted: unpivoting a month's
-- person-days first sorted six rows for each (at L, 3.5 million rows, 8 s).
activity_sums as (

    select
        period_start,
        case when grouping(department) = 1 then 'ALL' else department end as org_unit,
        sum(posts) as posts,
        sum(replies) as replies,
        sum(likes) as likes,
        sum(reads) as reads,
        sum(downloads) as downloads,
        sum(actions) as actions

    from person_months
    group by grouping sets ((period_start), (period_start, department))
    having grouping(department) = 1 or department is not null

),

summed as (

    select
        activity.measure,
        activity_sums.period_start,
        activity_sums.org_unit,
        activity.amount::numeric as amount

    from activity_sums
    cross join lateral (
        values
        ('posts', activity_sums.posts),
        ('replies', activity_sums.replies),
        ('likes', activity_sums.likes),
        ('reads', activity_sums.reads),
        ('downloads', activity_sums.downloads),
        ('actions', activity_sums.actions)
    ) as activity (measure, amount)

),

durations as (

    select
        'median_hours_to_first_answer' as measure,
        date_trunc('month', created_at at time zone 'UTC')::date as period_start,
        department,
        hours_to_first_reply_by_other as hours

    from scoped_posts
    where is_question and has_reply_by_other

    union all

    select
        'median_hours_to_resolution' as measure,
        date_trunc('month', created_at at time zone 'UTC')::date as period_start,
        department,
        hours_to_resolution as hours

    from scoped_pain_points
    where is_resolved

),

medians as (

    select
        measure,
        period_start,
        case when grouping(department) = 1 then 'ALL' else department end as org_unit,
        percentile_cont(0.5) within group (order by hours)::numeric as median_value,
        count(*)::numeric as item_count

    from durations
    group by grouping sets ((measure, period_start), (measure, period_start, department))
    having grouping(department) = 1 or department is not null

),

amounts as (

    select * from counted
    union all
    select * from summed

),

grid as (

    select
        periods.period_start,
        org_units.org_unit

    from scoped_periods as periods
    cross join org_units

),

pivoted as (

    select
        grid.period_start,
        grid.org_unit,
        {% for measure in [
            'registered_users', 'active_users', 'contributing_users', 'active_departments',
            'groups', 'active_groups', 'cross_department_threads', 'posts', 'replies', 'likes',
            'reads', 'downloads', 'actions', 'questions', 'answered_questions', 'posts_created',
            'responded_posts', 'hashtag_messages', 'customer_impact_messages',
            'customer_feedback_messages', 'pain_points', 'pain_points_resolved'
        ] -%}
            coalesce(max(amounts.amount) filter (where amounts.measure = '{{ measure }}'), 0)
                as {{ measure }},
        {% endfor -%}
        {% for measure in ['median_hours_to_first_answer', 'median_hours_to_resolution'] -%}
            max(medians.median_value) filter (where medians.measure = '{{ measure }}')
                as {{ measure }},
            coalesce(max(medians.item_count) filter (where medians.measure = '{{ measure }}'), 0)
                as {{ measure }}_items,
        {% endfor -%}
        count(*) as joined_rows

    from grid
    left join amounts
        on grid.period_start = amounts.period_start and grid.org_unit = amounts.org_unit
    left join medians
        on grid.period_start = medians.period_start and grid.org_unit = medians.org_unit
    group by grid.period_start, grid.org_unit

),

metrics as (

    select
        pivoted.period_start,
        pivoted.org_unit,
        metric.metric_key,
        metric.metric_level,
        metric.metric_kind,
        metric.amount,
        metric.numerator,
        metric.denominator

    from pivoted
    cross join lateral (
        values
        ('registered_users', 1, 'count', pivoted.registered_users, null, null),
        ('active_users', 1, 'count', pivoted.active_users, null, null),
        ('contributing_users', 1, 'count', pivoted.contributing_users, null, null),
        ('adoption_rate', 1, 'ratio', null, pivoted.active_users, pivoted.registered_users),
        ('contribution_rate', 1, 'ratio', null, pivoted.contributing_users, pivoted.active_users),
        ('groups', 2, 'count', pivoted.groups, null, null),
        ('active_groups', 2, 'count', pivoted.active_groups, null, null),
        ('active_departments', 2, 'count', pivoted.active_departments, null, null),
        ('cross_department_threads', 2, 'count', pivoted.cross_department_threads, null, null),
        ('posts', 3, 'count', pivoted.posts, null, null),
        ('replies', 3, 'count', pivoted.replies, null, null),
        ('likes', 3, 'count', pivoted.likes, null, null),
        ('reads', 3, 'count', pivoted.reads, null, null),
        ('downloads', 3, 'count', pivoted.downloads, null, null),
        ('actions_per_active_user', 3, 'ratio', null, pivoted.actions, pivoted.active_users),
        ('questions', 4, 'count', pivoted.questions, null, null),
        ('answered_questions', 4, 'count', pivoted.answered_questions, null, null),
        ('answer_rate', 4, 'ratio', null, pivoted.answered_questions, pivoted.questions),
        (
            'median_hours_to_first_answer', 4, 'median',
            pivoted.median_hours_to_first_answer, null, pivoted.median_hours_to_first_answer_items
        ),
        ('response_rate', 4, 'ratio', null, pivoted.responded_posts, pivoted.posts_created),
        ('hashtag_messages', 4, 'count', pivoted.hashtag_messages, null, null),
        ('customer_impact_messages', 5, 'count', pivoted.customer_impact_messages, null, null),
        ('customer_feedback_messages', 5, 'count', pivoted.customer_feedback_messages, null, null),
        ('pain_points', 5, 'count', pivoted.pain_points, null, null),
        ('pain_points_resolved', 5, 'count', pivoted.pain_points_resolved, null, null),
        (
            'median_hours_to_resolution', 5, 'median',
            pivoted.median_hours_to_resolution, null, pivoted.median_hours_to_resolution_items
        ),
        (
            'hours_saved', 5, 'count',
            pivoted.answered_questions * {{ var('minutes_saved_per_answer') }} / 60.0, null, null
        )
    ) as metric (metric_key, metric_level, metric_kind, amount, numerator, denominator)

),

final as (

    select
        metric_key::text as metric_key,
        metric_level::smallint as level,
        metric_kind::text as metric_kind,
        period_start,
        org_unit,
        case
            when metric_kind = 'ratio' then numerator / nullif(denominator, 0)
            else amount
        end::numeric as value,
        numerator::numeric as numerator,
        denominator::numeric as denominator,
        (select max(input_load_ids.load_id) from input_load_ids) as load_id

    from metrics
    where metric_key != 'active_departments' or org_unit = 'ALL'

)

select * from final
