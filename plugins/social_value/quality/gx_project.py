"""Write the GX file context under expectations/ from these definitions (run after editing them).

`python -m social_value.quality.gx_project` adds or updates the data source (connection string by
${SVW_GX_CONNECTION_STRING} substitution, never written out), the suites, their validation
definitions and one checkpoint per audit point, each rebuilding Data Docs.
"""

from __future__ import annotations

from social_value.quality.gx_checks import get_context

# Raw landing tables the `raw` checkpoint guards: (schema, table, key column, value ranges).
RAW_TABLES = [
    ("raw_viva_engage", "users", "id", {}),
    ("raw_activity_events", "events", "event_id", {}),
    ("raw_salesforce", "opportunities", "Id", {"Probability": (0, 100), "Amount": (0, None)}),
    ("raw_surveymonkey", "responses", "id", {}),
    ("raw_slack", "users", "id", {}),
]
FRESH_DAYS = 7  # a landing table whose newest load is older than this is stale
VOLUME_DROP = 0.5  # a table may not shrink below this share of its rows at the previous build

# Freshness: the newest row landed within FRESH_DAYS. Volume against recent loads: the table holds at
# least VOLUME_DROP of the rows it held when the previous build recorded it (audit.builds.raw_row_counts;
# raw tables only shrink by erasure).
FRESHNESS_SQL = ("select max(_loaded_at) from {{batch}} "
                 f"having max(_loaded_at) < now() - interval '{FRESH_DAYS} days'")
VOLUME_SQL = ("select 1 where (select count(*) from {{batch}}) < {share} * coalesce(("
              "select (raw_row_counts ->> '{table}')::bigint from audit.builds "
              "order by started_at desc offset 1 limit 1), 0)")


def _raw_suite(schema: str, table: str, key: str, ranges: dict) -> tuple:
    """Landing tables hold text exactly as received and may have mixed-case source column names,
    so key and range checks are SQL on quoted columns (a non-numeric value is out of range)."""
    column = f'"{key}"'

    def rows(query: str, description: str):
        return lambda gxe: gxe.UnexpectedRowsExpectation(unexpected_rows_query=query, description=description)

    builders = [
        rows(f"select {column} from {{batch}} where {column} is null", f"key {key} is never null"),
        rows(f"select {column} from {{batch}} group by {column} having count(*) > 1", f"key {key} is unique"),
        rows("select _load_id from {batch} where _load_id is null", "every row names its load"),
        rows(FRESHNESS_SQL.format(), f"newest row landed within {FRESH_DAYS} days"),
        rows(VOLUME_SQL.format(share=VOLUME_DROP, table=f"{schema}.{table}"),
             f"holds at least {VOLUME_DROP:.0%} of the rows it held at the previous build"),
    ]
    for name, (low, high) in ranges.items():
        value = f'"{name}"'
        bounds = " or ".join(part for part in (
            f"{value}::numeric < {low}" if low is not None else "",
            f"{value}::numeric > {high}" if high is not None else "") if part)
        builders.append(rows(
            f"select {value} from {{batch}} where {value} <> '' and case when {value} ~ "
            f"'^-?[0-9]+(\\.[0-9]+)?$' then {bounds} else true end",
            f"{name} is a number in [{low}, {high}]"))
    return (schema, table, f"{schema}_{table}", builders)


# checkpoint → [(schema, table, suite name, [expectation builders])]. The `marts` checkpoint reads
# the candidate schema: the build validates the marts before it publishes them.
TABLES = {
    "raw": [_raw_suite(*spec) for spec in RAW_TABLES],
    "marts": [
        ("marts_candidate", "metric_values", "marts_metric_values", [
            lambda gxe: gxe.ExpectColumnValuesToNotBeNull(column="metric_key"),
            lambda gxe: gxe.ExpectColumnValuesToNotBeNull(column="org_unit"),
            lambda gxe: gxe.ExpectColumnValuesToBeInSet(column="period_grain", value_set=["month", "week"]),
            lambda gxe: gxe.ExpectColumnValuesToBeBetween(column="value", min_value=-100),
            lambda gxe: gxe.ExpectColumnValuesToBeBetween(column="level", min_value=1, max_value=5),
            lambda gxe: gxe.ExpectTableRowCountToBeBetween(min_value=1),
        ]),
    ],
}


def main() -> None:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    context = get_context()
    source = context.data_sources.add_or_update_postgres(
        name="warehouse", connection_string="${SVW_GX_CONNECTION_STRING}")
    for checkpoint_name, tables in TABLES.items():
        definitions = []
        for schema, table, suite_name, builders in tables:
            asset_name = f"{schema}.{table}"
            existing = {asset.name: asset for asset in source.assets}
            asset = existing.get(asset_name) or source.add_table_asset(
                name=asset_name, table_name=table, schema_name=schema)
            batch = next((b for b in asset.batch_definitions if b.name == "whole_table"), None) \
                or asset.add_batch_definition_whole_table("whole_table")
            suite = gx.ExpectationSuite(name=suite_name, expectations=[make(gxe) for make in builders])
            suite = context.suites.add_or_update(suite)
            definitions.append(context.validation_definitions.add_or_update(
                gx.ValidationDefinition(name=suite_name, data=batch, suite=suite)))
        context.checkpoints.add_or_update(gx.Checkpoint(
            name=checkpoint_name, validation_definitions=definitions,
            actions=[gx.checkpoint.UpdateDataDocsAction(name="update_data_docs")],
            result_format={"result_format": "SUMMARY"}))
        print(f"checkpoint {checkpoint_name}: {len(definitions)} suite(s)")


if __name__ == "__main__":
    main()
