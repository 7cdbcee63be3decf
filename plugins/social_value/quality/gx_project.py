"""Write the GX file context under expectations/ from these definitions (run after editing them).

`python -m social_value.quality.gx_project` adds or updates the data source (connection string by
${SVW_GX_CONNECTION_STRING} substitution, never written out), the suites, their validation
definitions and one checkpoint per audit point, each rebuilding Data Docs.
"""

from __future__ import annotations

from social_value.quality.gx_checks import get_context

# checkpoint → [(schema, table, suite name, [expectation builders])]
TABLES = {
    "marts": [
        ("marts", "metric_values", "marts_metric_values", [
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
