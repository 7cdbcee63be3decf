"""The published tiers as a hostile reader sees them: bi_reader gets aggregates only; the analyst's
row-level facts hold no id a source could resolve and no person key that joins two facts."""

from __future__ import annotations

import os

import psycopg
import pytest

from social_value import runtime
from social_value.warehouse_setup import ROLES

# Identifiers a reader could look up in a source system or in another table.
SOURCE_IDS = {
    "Viva Engage message id": "select id from raw_viva_engage.messages",
    "Slack message id": "select channel_id || ':' || ts from raw_slack.messages",
    "Slack user id": "select id from raw_slack.users",
    "Salesforce opportunity or user id": "select \"Id\" from raw_salesforce.opportunities union all "
                                         "select \"Id\" from raw_salesforce.users",
    "Salesforce account id": "select \"Id\" from raw_salesforce.accounts",
    "person key": "select person_key from core.int_persons",
}
# The scorecard names the customer account by design (the article's widget): an account is an
# organisation, not a person, and its rows show no owner.
ALLOWED = {("marts", "customer_satisfaction_scorecard", "account_id"): {"Salesforce account id"}}


def role_url(role: str) -> str:
    return runtime.role_url(os.environ["SVW_WAREHOUSE_URL"], role, os.environ[ROLES[role]])


def readable_columns(conn: psycopg.Connection, role: str) -> list[tuple[str, str, str, str]]:
    return conn.execute(
        "select table_schema, table_name, column_name, data_type from information_schema.columns "
        "where table_schema not in ('pg_catalog', 'information_schema') and has_column_privilege("
        "%s, format('%%I.%%I', table_schema, table_name), column_name, 'SELECT')", (role,)).fetchall()


@pytest.mark.parametrize("role", ["bi_reader", "analyst"])
def test_no_readable_value_is_a_source_id_or_a_person_key(demo, conn, role):
    known = {}
    for kind, query in SOURCE_IDS.items():
        for (value,) in conn.execute(query):
            known[value] = kind
    assert len(set(known.values())) == len(SOURCE_IDS), "every kind of id is there to look for"
    columns = readable_columns(conn, role)
    assert columns, f"{role} reads something"
    with psycopg.connect(role_url(role)) as reader:
        for schema, table, column, data_type in columns:
            # Arrays too: each element is a value a reader could look up.
            value = f'unnest("{column}")' if data_type == "ARRAY" else f'"{column}"'
            values = reader.execute(f'select distinct {value}::text from "{schema}"."{table}"').fetchall()
            leaked = {known[value] for (value,) in values if value in known}
            leaked -= ALLOWED.get((schema, table, column), set())
            assert not leaked, f"{schema}.{table}.{column} holds a {', '.join(sorted(leaked))}"


def test_bi_reader_reads_no_row_level_fact(demo):
    with psycopg.connect(role_url("bi_reader"), autocommit=True) as bi:
        for table in ("restricted.fct_hashtag_outcomes", "restricted.fct_opportunities"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                bi.execute(f"select 1 from {table} limit 1")


def test_person_keys_of_two_facts_do_not_join(demo, conn):
    """Opportunity owners also write tagged messages; their keys in the two facts must differ."""
    owners_who_write = conn.execute(
        "select count(*) from (select distinct owner_key from core.int_opportunities) as owners "
        "join (select distinct person_key from core.int_message_hashtags) as authors "
        "on owners.owner_key = authors.person_key").fetchone()[0]
    assert owners_who_write > 0, "the attack needs people in both facts"
    with psycopg.connect(role_url("analyst")) as analyst:
        joined = analyst.execute(
            "select count(*) from restricted.fct_opportunities as opportunities "
            "join restricted.fct_hashtag_outcomes as outcomes "
            "on opportunities.owner_key = outcomes.author_key").fetchone()[0]
        # The facts still join on what their purpose needs: the opportunity a message names.
        named = analyst.execute(
            "select count(*) from restricted.fct_hashtag_outcomes as outcomes "
            "join restricted.fct_opportunities as opportunities "
            "on opportunities.opportunity_key = any(outcomes.referenced_opportunity_keys)").fetchone()[0]
    assert joined == 0
    assert named > 0
