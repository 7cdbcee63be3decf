"""Run a Great Expectations (GX Core 1.x) checkpoint from Airflow.

The GX Airflow provider pins structlog<25.5 and cannot install beside Airflow 3.3, so this is the
small operator we need: build the file context at execute time, run the checkpoint, record every
expectation in audit.test_results under the DAG run's build, push a summary to XCom, fail the task
naming each failed expectation. Data Docs are rebuilt by the checkpoint.
"""

from __future__ import annotations

from airflow.sdk import BaseOperator


class GXCheckpointOperator(BaseOperator):
    template_fields = ("checkpoint_name",)

    def __init__(self, *, checkpoint_name: str, conn_id: str = "svw_transformer", **kwargs) -> None:
        super().__init__(**kwargs)
        self.checkpoint_name = checkpoint_name
        self.conn_id = conn_id

    def execute(self, context) -> dict:
        # Imported here, not at the top: publish pulls in psycopg, which the DAG file's parse
        # would otherwise pay on every parse (about a third of a second).
        from social_value.airflow_connections import warehouse_url
        from social_value.publish import validate

        run_id = context["run_id"]
        summary = validate(warehouse_url(self.conn_id), run_id, self.checkpoint_name, dag_run_id=run_id)
        self.log.info("GX checkpoint %s: %d of %d expectations passed", self.checkpoint_name,
                      summary["passed"], summary["evaluated"])
        if summary["failed"]:
            failed = "; ".join(summary["failed"])
            raise RuntimeError(f"GX checkpoint {self.checkpoint_name} failed: {failed}")
        return summary
