{#-
    One row per person: a Viva Engage user or a non-bot Slack member, resolved across platforms by
    lower-cased email (person_key is the keyed hash of it, so the same person has the same key in
    every staging model, Salesforce included).

    A person is registered in a period when they joined before it ends and were not deleted or
    suspended before it starts (METRICS.md). Choices:
    - The department is the intranet directory's (Viva Engage); with several directory rows the
      latest join wins. Slack has no departments.
    - registered_from is the earliest Viva Engage join; registered_until the latest of each
      directory row's earlier deletion or suspension (NULL while any row is still live).
    - The Slack export has no join date: a member without a Viva Engage account is registered from
      their first Slack message and, once deleted, until their last one. A Slack-only member who
      never wrote has no known registration and is not counted as registered.
    - load_id is the latest raw load behind the row's values: directory rows, and for a Slack-only
      member the messages that date their registration (the first, and the last once deleted), so
      a member's everyday messages do not count as a change of the person. Incremental models
      downstream recompute what a person with a newer load_id touches.
-#}
with

viva_engage_users as (

    select * from {{ ref('stg_viva_engage__users') }}

),

slack_users as (

    select * from {{ ref('stg_slack__users') }}

),

slack_messages as (

    select * from {{ ref('stg_slack__messages') }}

),

directory as (

    select
        person_key,
        (array_agg(department order by joined_at desc nulls last))[1] as department,
        min(joined_at) as registered_from,
        case
            when bool_and(coalesce(deleted_at, suspended_at) is not null)
                then max(least(deleted_at, suspended_at))
        end as registered_until,
        max(load_id) as load_id

    from viva_engage_users
    group by person_key

),

slack_members as (

    select
        person_key,
        bool_and(is_deleted) as is_deleted,
        max(load_id) as member_load_id

    from slack_users
    where not is_bot
    group by person_key

),

-- Message dates matter only for a member without a directory registration date: only their
-- messages are read (a join that reads no message when there is none) instead of aggregating
-- every Slack message of history (at L, 1.1 million, most of this model's 9 s).
undated_slack_users as (

    select
        slack_users.slack_user_id,
        slack_users.person_key

    from slack_users
    where
        not slack_users.is_bot
        and not exists (
            select 1 from directory
            where
                directory.person_key = slack_users.person_key
                and directory.registered_from is not null
        )

),

slack_message_dates as (

    select
        undated_slack_users.person_key,
        min(slack_messages.created_at) as first_message_at,
        max(slack_messages.created_at) as last_message_at,
        (array_agg(slack_messages.load_id order by slack_messages.created_at))[1] as first_message_load_id,
        (array_agg(slack_messages.load_id order by slack_messages.created_at desc))[1] as last_message_load_id

    from undated_slack_users
    inner join slack_messages
        on undated_slack_users.slack_user_id = slack_messages.slack_user_id
    group by undated_slack_users.person_key

),

persons as (

    select
        coalesce(directory.person_key, slack_members.person_key) as person_key,
        directory.department,
        coalesce(directory.registered_from, slack_message_dates.first_message_at) as registered_from,
        case
            when directory.person_key is not null then directory.registered_until
            when slack_members.is_deleted then slack_message_dates.last_message_at
        end as registered_until,
        directory.person_key is not null as is_in_directory,
        slack_members.person_key is not null as is_slack_member,
        case
            when directory.person_key is not null
                then greatest(directory.load_id, slack_members.member_load_id)
            when slack_members.is_deleted
                then greatest(
                    slack_members.member_load_id,
                    slack_message_dates.first_message_load_id,
                    slack_message_dates.last_message_load_id
                )
            else greatest(slack_members.member_load_id, slack_message_dates.first_message_load_id)
        end as load_id

    from directory
    full outer join slack_members
        on directory.person_key = slack_members.person_key
    left join slack_message_dates
        on slack_members.person_key = slack_message_dates.person_key

)

select * from persons
