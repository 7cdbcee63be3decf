"""`python -m social_value <command>`: what the Makefile targets run.

  env        print the environment (export lines) every tool runs with
  run CMD    run CMD in that environment (starts the embedded Postgres when needed)
  demo       the main job end to end on the embedded default, with a readable result
  psql       psql on the warehouse (SQL on standard input works too); --role bi_reader
  airflow    the Airflow UI and scheduler on the same setup (airflow standalone)
  simulator  serve the source simulator in the foreground
  setup      create schemas, the bi_reader role and the key table (idempotent)
  erase      GDPR erasure of one person (--email) through raw, core and marts
  docs       serve the dbt docs and GX Data Docs of the latest build (reports/docs/) on localhost
  stop       stop the embedded Postgres
  check-gx   load every GX checkpoint's configuration (no database needed)
  manifest   dbt parse: the manifest build_warehouse's cosmos task group is rendered from
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from social_value import runtime, settings

LOG_DIR = settings.STATE_DIR / "logs"
REPORT_PATH = settings.PROJECT_ROOT / "reports" / "social-value.html"
DOCS_DIR = settings.PROJECT_ROOT / "reports" / "docs"
INGEST_DAGS = ("ingest_intranet", "ingest_crm", "ingest_survey")


def _exec(command: list[str]) -> None:
    sys.stdout.flush()
    os.execvpe(command[0], command, os.environ)


def _venv_bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def cmd_env(_: argparse.Namespace) -> None:
    for key, value in runtime.build_env().items():
        print(f"export {key}={shlex.quote(value)}")


def cmd_run(args: argparse.Namespace) -> None:
    if not args.command:
        raise SystemExit("usage: python -m social_value run COMMAND [ARGS...]")
    runtime.apply_env()
    ensure_embedded_roles()
    _exec(args.command)


def ensure_embedded_roles() -> None:
    """dbt (and sqlfluff's dbt templater) log in as the transformer: on a new embedded server,
    run the setup first so that role exists. A configured warehouse is the operator's to set up."""
    import psycopg

    if os.environ.get("SVW_EMBEDDED") != "1":
        return
    transformer = runtime.role_url(os.environ["SVW_WAREHOUSE_URL"], "transformer",
                                   os.environ["SVW_TRANSFORMER_PASSWORD"])
    try:
        psycopg.connect(transformer, connect_timeout=10).close()
    except psycopg.OperationalError:
        from social_value.warehouse_setup import role_passwords, setup

        setup(os.environ["SVW_WAREHOUSE_URL"], os.environ.get("SVW_PSEUDONYM_KEY"), role_passwords())


def cmd_psql(args: argparse.Namespace) -> None:
    from social_value import embedded_postgres

    runtime.apply_env()
    url = os.environ["SVW_WAREHOUSE_URL"]
    if args.role == "bi_reader":
        url = bi_reader_url()
    _exec([embedded_postgres.psql_binary(), "--no-psqlrc" if not sys.stdin.isatty() else "-X", url])


def bi_reader_url() -> str:
    return runtime.role_url(os.environ["SVW_WAREHOUSE_URL"], "bi_reader",
                            os.environ.get("SVW_BI_READER_PASSWORD", "<SVW_BI_READER_PASSWORD>"))


def cmd_stop(_: argparse.Namespace) -> None:
    from social_value import embedded_postgres

    embedded_postgres.stop()
    print("embedded Postgres stopped")


def cmd_setup(_: argparse.Namespace) -> None:
    from social_value.warehouse_setup import role_passwords, setup

    runtime.apply_env()
    setup(os.environ["SVW_WAREHOUSE_URL"], os.environ.get("SVW_PSEUDONYM_KEY"), role_passwords())
    print("warehouse schemas, bi_reader role and pseudonymisation key in place")


def cmd_erase(args: argparse.Namespace) -> None:
    """GDPR erasure of one person through raw, core and marts, then a rebuild of the marts."""
    from social_value.erasure import erase_person, valid_email
    from social_value.publish import build_and_publish

    if not args.email:
        raise SystemExit("usage: python -m social_value erase --email person@example.org [--dry-run]")
    try:
        email = valid_email(args.email)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    runtime.apply_env()
    changed = erase_person(os.environ["SVW_WAREHOUSE_URL"], email, os.environ.get("SVW_PSEUDONYM_KEY"),
                           dry_run=args.dry_run)
    verb = "would be" if args.dry_run else ""
    for table, count in sorted(changed.items()):
        done = "masked" if table.endswith("(masked)") else "deleted"
        print(f"  {table.removesuffix(' (masked)')}: {count} row(s) {verb + ' ' if verb else ''}{done}")
    if args.dry_run:
        print("dry run: nothing was changed")
        return
    print("rebuilding and publishing the marts without them (dbt build --full-refresh, GX, publish) ...",
          flush=True)
    # Full refresh: incremental models cannot see deleted raw rows (docs/incremental-builds.md).
    result = build_and_publish(os.environ["AIRFLOW_CONN_SVW_TRANSFORMER"], full_refresh=True)
    print(f"  publication {result['publication']['publication_id']} (build {result['dbt']['build_id']})")
    print("erased; later loads skip this person (svw_private.erasures holds a keyed hash of their email, "
          "not the email). Delete them in the source systems too.")


def cmd_docs(args: argparse.Namespace) -> None:
    """Serve reports/docs/ (written by every build; generated now if no build wrote it yet)."""
    import contextlib
    import functools
    import http.server

    if not (DOCS_DIR / "index.html").exists():
        from social_value.publish import generate_docs

        runtime.apply_env()
        generate_docs(os.environ["AIRFLOW_CONN_SVW_TRANSFORMER"], DOCS_DIR)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(DOCS_DIR))
    with http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler) as httpd:
        print(f"dbt docs and GX Data Docs of the latest build: http://127.0.0.1:{args.port}/ "
              f"(files in {DOCS_DIR}; Ctrl-C stops)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            httpd.serve_forever()


def cmd_check_gx(_: argparse.Namespace) -> None:
    from social_value.quality.gx_checks import check_configuration

    names = check_configuration()
    print(f"GX configuration loads: checkpoints {', '.join(names)}")


def cmd_simulator(_: argparse.Namespace) -> None:
    runtime.apply_env()
    _exec([sys.executable, "-m", "social_value.simulator.server", "--port", str(runtime.simulator_port())])


def prepare(progress) -> None:
    """Warehouse setup and the Airflow metadata schema: both idempotent."""
    from social_value.warehouse_setup import role_passwords, setup

    setup(os.environ["SVW_WAREHOUSE_URL"], os.environ.get("SVW_PSEUDONYM_KEY"), role_passwords())
    progress("warehouse schemas, bi_reader role and pseudonymisation key in place")
    parse_manifest()
    progress("dbt manifest written (build_warehouse renders its tasks from it)")
    _logged([_venv_bin("airflow"), "db", "migrate"], LOG_DIR / "airflow-db-migrate.log")
    progress("Airflow metadata database migrated")


def parse_manifest() -> None:
    """dbt parse as the transformer: the manifest cosmos renders build_warehouse's tasks from."""
    from social_value.cosmos_build import parse_manifest as parse

    parse(runtime.role_url_from_env("transformer"))


def cmd_manifest(_: argparse.Namespace) -> None:
    runtime.apply_env()
    ensure_embedded_roles()
    parse_manifest()
    from social_value.cosmos_build import MANIFEST

    print(f"dbt manifest written: {MANIFEST}")


def start_simulator() -> subprocess.Popen:
    """Serve the simulator's APIs in a subprocess and write its file drops to SVW_DROP_DIR."""
    from social_value.simulator import drops
    from social_value.simulator.organisation import Scale

    drops.write_all(Path(os.environ["SVW_DROP_DIR"]), Scale())
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = (LOG_DIR / "simulator.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "social_value.simulator.server", "--port", str(runtime.simulator_port())],
        stdout=log, stderr=subprocess.STDOUT)
    import socket

    for _ in range(100):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", runtime.simulator_port())) == 0:
                return proc
        if proc.poll() is not None:
            raise RuntimeError(f"the simulator exited; see {LOG_DIR / 'simulator.log'}")
        time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"the simulator did not listen on port {runtime.simulator_port()}")


def _logged(command: list[str], log_path: Path, on_line=None) -> None:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log, subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        for line in proc.stdout:
            log.write(line)
            if on_line:
                on_line(line)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command[1:3])} failed (exit {proc.returncode}); log: {log_path}")


def run_dag(dag_id: str, progress) -> str:
    """`airflow dags test` one DAG, showing its tasks as they finish; returns the run id."""
    def on_line(line: str) -> None:
        if "[DAG TEST] end task" in line:
            task = line.split("task_id=")[1].split()[0]
            progress(f"  {dag_id}.{task} done")

    _logged([_venv_bin("airflow"), "dags", "test", dag_id], LOG_DIR / f"{dag_id}.log", on_line)
    run_id, state = latest_run(dag_id)
    if state != "success":
        raise SystemExit(f"DAG {dag_id} run {run_id} ended {state}; log: {LOG_DIR / f'{dag_id}.log'}")
    return run_id


def _airflow_db():
    import psycopg

    return psycopg.connect(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("+psycopg2", ""))


def latest_run(dag_id: str) -> tuple[str, str]:
    with _airflow_db() as conn:
        row = conn.execute("select run_id, state from dag_run where dag_id = %s order by id desc limit 1",
                           (dag_id,)).fetchone()
    return row if row else ("", "missing")


def task_results(dag_id: str, run_id: str) -> dict[str, object]:
    """Each task's return value; the dbt producer's run summary (its own XCom key) as `dbt_build`."""
    from social_value.cosmos_build import GROUP_ID, PRODUCER_TASK_ID, SUMMARY_XCOM_KEY

    with _airflow_db() as conn:
        rows = conn.execute("select task_id, key, value from xcom where dag_id = %s and run_id = %s "
                            "and key in ('return_value', %s)", (dag_id, run_id, SUMMARY_XCOM_KEY)).fetchall()
    producer = f"{GROUP_ID}.{PRODUCER_TASK_ID}"
    return {"dbt_build" if (task_id, key) == (producer, SUMMARY_XCOM_KEY) else task_id: value
            for task_id, key, value in rows if key == "return_value" or task_id == producer}


def cmd_demo(_: argparse.Namespace) -> None:
    from social_value import report, report_html

    started = time.monotonic()

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", flush=True)

    progress("starting the embedded Postgres" if not settings.warehouse_url() else "using SVW_WAREHOUSE_URL")
    runtime.apply_env()
    prepare(progress)
    simulator = start_simulator() if os.environ.get("SVW_EMBEDDED") else None
    try:
        if simulator:
            progress(f"source simulator serving on 127.0.0.1:{runtime.simulator_port()}")
        ingest_runs = {}
        for dag_id in INGEST_DAGS:
            if (settings.PROJECT_ROOT / "dags" / f"{dag_id}.py").exists():
                progress(f"running DAG {dag_id} (airflow dags test)")
                ingest_runs[dag_id] = run_dag(dag_id, progress)
        progress("running DAG build_warehouse (airflow dags test)")
        build_run = run_dag("build_warehouse", progress)
    finally:
        if simulator:
            simulator.terminate()
            simulator.wait()
    html = report_html.write_report(bi_reader_url(), REPORT_PATH)
    progress(f"HTML report written: {html}")
    print()
    print(report.terminal_summary(
        bi_url=bi_reader_url(),
        ingest={task: summary for dag_id, run_id in ingest_runs.items()
                for task, summary in task_results(dag_id, run_id).items()},
        build=task_results("build_warehouse", build_run)))


def cmd_airflow(_: argparse.Namespace) -> None:
    runtime.apply_env()
    prepare(lambda message: print(message, flush=True))
    simulator = start_simulator() if os.environ.get("SVW_EMBEDDED") else None
    if simulator:
        print(f"source simulator serving on 127.0.0.1:{runtime.simulator_port()}")
    print("Airflow UI: http://127.0.0.1:8080 (user admin; the password is in "
          f"{Path(os.environ['AIRFLOW_HOME']) / 'simple_auth_manager_passwords.json.generated'}). "
          "Ctrl-C stops Airflow and the simulator.", flush=True)
    os.environ.setdefault("AIRFLOW__API__PORT", "8080")
    # This machine only, and every file Airflow writes (its generated admin password too) readable
    # by this user only.
    os.environ.setdefault("AIRFLOW__API__HOST", "127.0.0.1")
    os.umask(0o077)
    # standalone starts its components as `airflow ...` from PATH: put this venv first.
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    try:
        subprocess.run([_venv_bin("airflow"), "standalone"], check=False)
    except KeyboardInterrupt:
        pass
    finally:
        if simulator:
            simulator.terminate()
            simulator.wait()


COMMANDS = {
    "env": cmd_env, "run": cmd_run, "demo": cmd_demo, "psql": cmd_psql, "airflow": cmd_airflow,
    "simulator": cmd_simulator, "stop": cmd_stop, "check-gx": cmd_check_gx, "setup": cmd_setup,
    "manifest": cmd_manifest,
    "erase": cmd_erase, "docs": cmd_docs,
}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m social_value", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("--role", choices=["owner", "bi_reader"], default="owner",
                        help="psql: connect as this role")
    parser.add_argument("--email", help="erase: the person's email address (one, in full)")
    parser.add_argument("--dry-run", action="store_true", help="erase: show what would go, change nothing")
    parser.add_argument("--port", type=int, default=8081, help="docs: serve on this localhost port")
    if argv[:1] == ["run"]:  # everything after `run` is the command to run, options included
        args = argparse.Namespace(command=argv[1:])
        command = "run"
    else:
        args = parser.parse_args(argv)
        command = args.command
    try:
        COMMANDS[command](args)
    except settings.ConfigError as error:
        raise SystemExit(f"configuration error: {error}") from None
