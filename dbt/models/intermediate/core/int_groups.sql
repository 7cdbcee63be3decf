{#-
    One row per group (METRICS.md level 2): Viva Engage groups and Slack public channels, with the
    department of their creator and the interval they existed.

    Choices:
    - A Viva Engage group marked deleted counts as deleted from its updated_at.
    - The Slack export has no archive time: an archived channel counts as deleted from its last
      message (from its creation when it holds none). Private Slack channels are not groups.
-#}
with

viva_engage_groups as (

    select * from {{ ref('stg_viva_engage__groups') }}

),

viva_engage_users as (

    select * from {{ ref('stg_viva_engage__users') }}

),

slack_channels as (

    select * from {{ ref('stg_slack__channels') }}

),

slack_users as (

    select * from {{ ref('stg_slack__users') }}

),

slack_messages as (

    select * from {{ ref('stg_slack__messages') }}

),

persons as (

    select * from {{ ref('int_persons') }}

),

viva_engage as (

    select
        viva_engage_groups.group_id,
        'viva_engage' as platform,
        viva_engage_users.person_key as creator_key,
        viva_engage_groups.created_at,
        case
            when viva_engage_groups.is_deleted
                then coalesce(viva_engage_groups.updated_at, viva_engage_groups.created_at)
        end as deleted_at

    from viva_engage_groups
    left join viva_engage_users
        on viva_engage_groups.creator_viva_engage_user_id = viva_engage_users.viva_engage_user_id

),

last_slack_messages as (

    select
        channel_id,
        max(created_at) as last_message_at

    from slack_messages
    group by channel_id

),

slack as (

    select
        slack_channels.channel_id as group_id,
        'slack' as platform,
        slack_users.person_key as creator_key,
        slack_channels.created_at,
        case
            when slack_channels.is_archived
                then coalesce(last_slack_messages.last_message_at, slack_channels.created_at)
        end as deleted_at

    from slack_channels
    left join slack_users
        on slack_channels.creator_slack_user_id = slack_users.slack_user_id
    left join last_slack_messages
        on slack_channels.channel_id = last_slack_messages.channel_id
    where not slack_channels.is_private

),

unioned as (

    select * from viva_engage
    union all
    select * from slack

),

final as (

    select
        unioned.group_id,
        unioned.platform,
        unioned.creator_key,
        persons.department,
        unioned.created_at,
        unioned.deleted_at

    from unioned
    left join persons
        on unioned.creator_key = persons.person_key

)

select * from final
