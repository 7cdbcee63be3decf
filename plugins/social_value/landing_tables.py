"""Every landing table of every source, created empty by the setup, whatever has arrived yet.

An organisation without Slack (or events, or Qualtrics) still builds: staging, the raw GX
checkpoint and the key test read every raw_* table, and an empty one is a source that sent nothing
(the marts then publish its metrics as NULL, see metric_values). Tables are created as the loader
creates them (loader.ensure_table, run as the `loader` role): same owner, columns, key, `_extra`,
load columns and BRIN index, so a first load only appends.

The tables come from each connector's own declarations; Salesforce's delivery-project columns come
from its configuration (SVW_SALESFORCE_* at setup). A table that lacks a declared column (a
connector or a mapping that gained one) gets it here or at the next load (ensure_table).
"""

from __future__ import annotations

import psycopg

from social_value import loader


def declared() -> list[loader.RawTable]:
    """The landing tables every connector declares, in their default schemas."""
    from social_value.connectors import (
        activity_events,
        msgraph_reports,
        qualtrics,
        slack_export,
        surveymonkey,
    )
    from social_value.connectors import viva_engage_export as viva_engage
    from social_value.connectors.salesforce import SalesforceConfig
    from social_value.ingest import crm

    return [
        *viva_engage.tables().values(),
        msgraph_reports.table(),
        *slack_export.tables().values(),
        activity_events.table(),
        *(crm.raw_table(crm.SCHEMA, obj) for obj in SalesforceConfig.from_settings().objects()),
        *surveymonkey.tables().values(),
        *qualtrics.tables().values(),
    ]


def create_all(conn: psycopg.Connection, tables: list[loader.RawTable] | None = None) -> list[str]:
    """Create the landing tables that do not exist yet and add declared columns a table lacks,
    as `loader`, so the loader owns what it makes. Returns the tables created or widened."""
    conn.execute("set role loader")
    try:
        return [f"{table.schema}.{table.name}" for table in tables or declared()
                if loader.ensure_table(conn, table)]
    finally:
        conn.execute("reset role")
