{#-
    Activity per person and UTC day (METRICS.md "Activity of a person"): posts and replies (human
    messages), likes (Graph "Liked Count" and Slack reactions given), reads (Graph "Read Count" and
    view events) and downloads (download events).

    Choices:
    - Graph "Posted Count" is not used: posts and replies come from the messages themselves, so
      they are not counted twice.
    - Graph rows whose names the tenant conceals (32-hex hashes) are kept with person_key NULL:
      they count in the organisation's likes and reads ('ALL') but in no person-based metric.
    - Activity is a person's (METRICS.md): a Graph row of a user principal name that is no
      intranet person, an event of an unknown email or a reaction by a bot counts nowhere.
    - A Slack reaction has no time of its own in the export; it counts on its message's day.
    - Event types other than view and download (share, ...) are not activity in METRICS.md.

    Incremental (docs/incremental-builds.md): a run recomputes whole days — the last
    activity_lookback_days days before the newest day already built, every day that a source row
    loaded since the last build touches (a late Graph re-read, a late event file), and every day
    with activity of a person whose int_persons row changed since (a late directory row makes
    their earlier Graph rows and events count) — so the result equals a full refresh. Whole days
    are replaced (delete+insert on activity_date), so a person-day whose activity disappeared
    goes too. load_id is the latest load behind the row, person included. Departments are joined
    downstream. The days are found before the query runs (macro activity_recompute_window) and
    the query filters on them as constants, so the activity_date indexes of int_graph_days and
    int_activity_events find the recomputed days' rows. Analysed only when its statistics are
    stale (analyze_after_build): its readers find a month's or a load's rows through these
    indexes, and analysing 6.5 million rows at L took 0.8 s of every build, on its critical path.
-#}
{{ config(
    materialized='incremental',
    unique_key='activity_date',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    indexes=[{'columns': ['activity_date']}, {'columns': ['load_id']}],
    meta={'analyze': 'when_stale'},
) }}
{%- set recompute = activity_recompute_window() %}

with

messages as (

    select * from {{ ref('int_messages') }}

),

graph_days as (

    select * from {{ ref('int_graph_days') }}

),

reactions as (

    select * from {{ ref('stg_slack__message_reactions') }}

),

slack_users as (

    select * from {{ ref('stg_slack__users') }}

),

events as (

    select * from {{ ref('int_activity_events') }}

),

persons as (

    select * from {{ ref('int_persons') }}

),

-- The window on created_at itself, so that int_messages' created_at index finds the recomputed
-- days' messages (a condition on the computed UTC date read all 2 million of them at L).
in_window_messages as (

    select
        *,
        (created_at at time zone 'UTC')::date as activity_date

    from messages
    where {{ activity_window('created_at', recompute, utc=true) }}

),

message_activity as (

    select
        person_key,
        activity_date,
        count(*) filter (where is_thread_starter) as posts,
        count(*) filter (where not is_thread_starter) as replies,
        0 as likes,
        0 as reads,
        0 as downloads,
        max(load_id) as load_id

    from in_window_messages
    where is_human
    group by person_key, activity_date

),

graph_activity as (

    select
        persons.person_key,
        graph_days.activity_date,
        0 as posts,
        0 as replies,
        sum(graph_days.like_count) as likes,
        sum(graph_days.read_count) as reads,
        0 as downloads,
        max(greatest(graph_days.load_id, persons.load_id)) as load_id

    from graph_days
    left join persons
        on graph_days.person_key = persons.person_key
    where
        (persons.person_key is not null or graph_days.is_concealed)
        and {{ activity_window('graph_days.activity_date', recompute) }}
    group by persons.person_key, graph_days.activity_date

),

reaction_activity as (

    select
        persons.person_key,
        in_window_messages.activity_date,
        0 as posts,
        0 as replies,
        count(*) as likes,
        0 as reads,
        0 as downloads,
        max(greatest(reactions.load_id, slack_users.load_id, persons.load_id)) as load_id

    from reactions
    inner join in_window_messages
        on reactions.message_id = in_window_messages.message_id
    inner join slack_users
        on reactions.slack_user_id = slack_users.slack_user_id and not slack_users.is_bot
    inner join persons
        on slack_users.person_key = persons.person_key
    -- The same days as in_window_messages, on the reaction's own column so that the condition
    -- reaches the raw messages before their reactions JSON is unnested (all of history, else).
    where {{ activity_window("(reactions.message_created_at at time zone 'UTC')::date", recompute) }}
    group by persons.person_key, in_window_messages.activity_date

),

event_days as (

    select * from events
    where event_type in ('view', 'download')

),

event_activity as (

    select
        persons.person_key,
        event_days.activity_date,
        0 as posts,
        0 as replies,
        0 as likes,
        count(*) filter (where event_days.event_type = 'view') as reads,
        count(*) filter (where event_days.event_type = 'download') as downloads,
        max(greatest(event_days.load_id, persons.load_id)) as load_id

    from event_days
    inner join persons
        on event_days.person_key = persons.person_key
    where {{ activity_window('event_days.activity_date', recompute) }}
    group by persons.person_key, event_days.activity_date

),

unioned as (

    select * from message_activity
    union all
    select * from graph_activity
    union all
    select * from reaction_activity
    union all
    select * from event_activity

),

final as (

    select
        coalesce(person_key, '(concealed)') || ':' || activity_date as person_day_key,
        person_key,
        activity_date,
        sum(posts)::integer as posts,
        sum(replies)::integer as replies,
        sum(likes)::integer as likes,
        sum(reads)::integer as reads,
        sum(downloads)::integer as downloads,
        sum(posts + replies + likes + reads + downloads)::integer as actions,
        max(load_id) as load_id

    from unioned
    group by person_key, activity_date

)

select * from final
