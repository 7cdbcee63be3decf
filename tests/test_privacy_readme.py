"""The README's privacy table is the role matrix of a live warehouse: for every schema or table it
names, exactly the roles it says can read there, and no other."""

from __future__ import annotations

import re

from conftest import ROOT

from social_value.warehouse_setup import RAW_SCHEMAS, ROLES

TICKED = re.compile(r"`([^`]+)`")


def privacy_table() -> dict[str, set[str]]:
    """{schema or schema.table: the roles the README says can read it}."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Privacy"):text.index("### Threat model")]
    claims: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        where = cells[0].split("(e.g.")[0]
        readers = {name for name in TICKED.findall(cells[2]) if name in ROLES}
        for place in TICKED.findall(where):
            expanded = [s for s in RAW_SCHEMAS if s != "raw_meta"] if place == "raw_*" else [place]
            for name in expanded:
                claims[name] = readers
    return claims


def live_readers(conn, place: str) -> set[str]:
    if "." in place:
        check = "has_table_privilege(%s, %s, 'SELECT')"
    else:
        check = "has_schema_privilege(%s, %s, 'USAGE')"
    return {role for role in ROLES if conn.execute(f"select {check}", (role, place)).fetchone()[0]}


def test_the_readme_privacy_table_is_the_live_role_matrix(env, conn):
    claims = privacy_table()
    assert {"marts", "restricted", "audit", "raw_slack", "svw_private.pseudonym_key"} <= set(claims)
    differences = {place: (sorted(said), sorted(live_readers(conn, place)))
                   for place, said in claims.items() if said != live_readers(conn, place)}
    assert differences == {}, "README says (left), the warehouse grants (right)"


def test_every_schema_a_role_can_use_is_in_the_table(env, conn):
    claims = privacy_table()
    schemas = {name for (name,) in conn.execute(
        "select nspname from pg_namespace where nspname not like 'pg\\_%' "
        "and nspname not in ('information_schema', 'public')")}
    used = {schema for schema in schemas if live_readers(conn, schema)}
    named = {place.split(".")[0] for place in claims}
    assert used - named == set(), "schemas a role can use that the README's privacy table omits"
