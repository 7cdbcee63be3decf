{#-
    Activity per person and UTC day (METRICS.md "Activity of a person"): posts and replies (human
    messages), likes (Graph "Liked Count" and Slack reactions given), reads (Graph "Read Count" and
    view events) and downloads (download events).

    Choices:
    - Graph "Posted Count" is not used: posts and replies come from the messages themselves, so
      they are not counted twice.
    - Rows that reach no person (a Graph row whose name is concealed or whose user principal name
      is no intranet person, an event of an unknown email, a reaction by a bot or unknown member)
      are kept with person_key NULL: they count in the organisation's likes, reads and downloads
      ('ALL') but in no person-based metric.
    - A Slack reaction has no time of its own in the export; it counts on its message's day.
    - Event types other than view and download (share, ...) are not activity in METRICS.md.
-#}
with

messages as (

    select * from {{ ref('int_messages') }}

),

graph_days as (

    select * from {{ ref('stg_msgraph__yammer_user_activity_days') }}

),

reactions as (

    select * from {{ ref('stg_slack__message_reactions') }}

),

slack_users as (

    select * from {{ ref('stg_slack__users') }}

),

events as (

    select * from {{ ref('stg_activity_events__events') }}

),

persons as (

    select * from {{ ref('int_persons') }}

),

message_activity as (

    select
        person_key,
        (created_at at time zone 'UTC')::date as activity_date,
        count(*) filter (where is_thread_starter) as posts,
        count(*) filter (where not is_thread_starter) as replies,
        0 as likes,
        0 as reads,
        0 as downloads

    from messages
    where is_human
    group by 1, 2

),

graph_activity as (

    select
        persons.person_key,
        graph_days.activity_date,
        0 as posts,
        0 as replies,
        sum(graph_days.like_count) as likes,
        sum(graph_days.read_count) as reads,
        0 as downloads

    from graph_days
    left join persons
        on graph_days.person_key = persons.person_key
    group by 1, 2

),

reaction_activity as (

    select
        persons.person_key,
        (messages.created_at at time zone 'UTC')::date as activity_date,
        0 as posts,
        0 as replies,
        count(*) as likes,
        0 as reads,
        0 as downloads

    from reactions
    inner join messages
        on reactions.message_id = messages.message_id
    left join slack_users
        on reactions.slack_user_id = slack_users.slack_user_id and not slack_users.is_bot
    left join persons
        on slack_users.person_key = persons.person_key
    group by 1, 2

),

event_activity as (

    select
        persons.person_key,
        (events.occurred_at at time zone 'UTC')::date as activity_date,
        0 as posts,
        0 as replies,
        0 as likes,
        count(*) filter (where events.event_type = 'view') as reads,
        count(*) filter (where events.event_type = 'download') as downloads

    from events
    left join persons
        on events.person_key = persons.person_key
    where events.event_type in ('view', 'download')
    group by 1, 2

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

summed as (

    select
        unioned.person_key,
        unioned.activity_date,
        sum(unioned.posts)::integer as posts,
        sum(unioned.replies)::integer as replies,
        sum(unioned.likes)::integer as likes,
        sum(unioned.reads)::integer as reads,
        sum(unioned.downloads)::integer as downloads

    from unioned
    group by 1, 2

),

final as (

    select
        summed.person_key,
        persons.department,
        summed.activity_date,
        summed.posts,
        summed.replies,
        summed.likes,
        summed.reads,
        summed.downloads,
        summed.posts + summed.replies + summed.likes + summed.reads + summed.downloads as actions

    from summed
    left join persons
        on summed.person_key = persons.person_key

)

select * from final
