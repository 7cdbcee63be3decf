{#-
    One row per group (METRICS.md level 2): Viva Engage groups and Slack public channels, with the
    department of their creator and the interval they existed.

    Choices:
    - A Viva Engage group marked deleted counts as deleted from its updated_at.
    - A Slack channel is never deleted in an export, only archived; an archived channel still
      exists (METRICS.md counts deleted groups out, and archiving keeps the channel and its
      history). Private Slack channels are not groups.
    - load_id is the latest raw load behind the row: the group's own and its creator's person
      (department), for the incremental facts.
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
        end as deleted_at,
        viva_engage_groups.load_id

    from viva_engage_groups
    left join viva_engage_users
        on viva_engage_groups.creator_viva_engage_user_id = viva_engage_users.viva_engage_user_id

),

slack as (

    select
        slack_channels.channel_id as group_id,
        'slack' as platform,
        slack_users.person_key as creator_key,
        slack_channels.created_at,
        null::timestamptz as deleted_at,
        slack_channels.load_id

    from slack_channels
    left join slack_users
        on slack_channels.creator_slack_user_id = slack_users.slack_user_id
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
        unioned.deleted_at,
        greatest(unioned.load_id, persons.load_id) as load_id

    from unioned
    left join persons
        on unioned.creator_key = persons.person_key

)

select * from final
