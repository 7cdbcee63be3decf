{#-
    Post-hook of every intermediate model: `analyze` the table it wrote. Without it the planner
    did not know an incremental run's new rows, and int_posts' plan turned quadratic (77 s where
    it takes 0.4 s at 20,000 employees).

    A model with meta `analyze: when_stale` is analysed only when its statistics are missing (a
    new table, a full refresh) or the rows changed since the last analyze pass a tenth of the
    table, as Postgres's autovacuum does: int_graph_days and int_activity_events, read only
    through their day, person and load_id indexes, where the planner reads an index's true end
    beyond the statistics. Analysing them (6.5 and 4.5 million rows at L) took 8 s each of an
    incremental run.
-#}
{% macro analyze_after_build() -%}
    {%- if model.config.get('meta', {}).get('analyze') != 'when_stale' -%}
        analyze {{ this }}
    {%- else -%}
        do $analyze$
        begin
            if (
                select coalesce(stats.last_analyze, stats.last_autoanalyze) is not null
                    and stats.n_mod_since_analyze < 0.1 * greatest(stats.n_live_tup, 1)
                from pg_stat_user_tables as stats
                where stats.relid = '{{ this }}'::regclass
            ) is not true then
                analyze {{ this }};
            end if;
        end
        $analyze$
    {%- endif -%}
{%- endmacro %}
