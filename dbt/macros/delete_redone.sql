{#-
    Pre-hook of an incremental model redone per message or per thread (int_message_hashtags,
    int_posts, int_pain_points): in an incremental build, deletes every row of a message or thread
    that this run redoes (the keys of `messages` rows newer than the newest load built here) before
    the insert writes them again. A row whose message or thread no longer yields one (a hashtag
    edited away, a post that stopped being one) is gone with it. The same end state as deleting,
    after the insert, each row older than a message of its key, which joined all of history.
-#}
{% macro delete_redone(key_columns, messages) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} as stale
        using (
            select distinct {{ key_columns | join(', ') }} from {{ messages }}
            where load_id > {{ built_load_id() }}
        ) as redone
        where
        {%- for column in key_columns %} stale.{{ column }} = redone.{{ column }}
            {%- if not loop.last %} and{% endif %}
        {%- endfor %}
    {%- endif -%}
{%- endmacro %}
