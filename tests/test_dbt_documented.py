"""Every dbt model and seed is described, and so is every column it actually builds: auditors and BI
users read these descriptions (dbt also writes them into the database as comments)."""

from __future__ import annotations

import json

from social_value.dbt_runner import DBT_DIR


def test_every_built_column_is_described(demo, conn):
    manifest = json.loads((DBT_DIR / "target" / "manifest.json").read_text())
    undocumented = []
    for node in manifest["nodes"].values():
        if node["resource_type"] not in ("model", "seed"):
            continue
        # The last build wrote each tier into its candidate schema and published it.
        schema = node["schema"].removesuffix("_candidate")
        name = f"{schema}.{node['alias']}"
        if not node["description"].strip():
            undocumented.append(name)
        built = [column for (column,) in conn.execute(
            "select column_name from information_schema.columns where table_schema = %s "
            "and table_name = %s", (schema, node["alias"]))]
        assert built or node["config"].get("enabled") is False, f"{name} was not built"
        undocumented += [f"{name}.{column}" for column in built
                         if not node["columns"].get(column, {}).get("description", "").strip()]
    assert undocumented == []
