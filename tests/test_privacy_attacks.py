"""Attacks an authorised but hostile user (a model author, a loader, a BI user) may try; each one
must fail. Role privileges, erasure and the environment dbt and GX get, on a real Postgres."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import psycopg
import pytest
from conftest import ROOT

from social_value import erasure, runtime
from social_value.dbt_runner import confined_env, run_dbt
from social_value.warehouse_setup import ROLES

SECRET_VARS = ["SVW_PSEUDONYM_KEY", "SVW_SOURCE_TOKEN", "SVW_WAREHOUSE_URL", "AIRFLOW_CONN_SVW_WAREHOUSE",
               "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW_CONN_SVW_LOADER", *ROLES.values()]


def role_url(role: str, database: str | None = None) -> str:
    url = runtime.role_url(os.environ["SVW_WAREHOUSE_URL"], role, os.environ[ROLES[role]])
    return url.rsplit("/", 1)[0] + f"/{database}" if database else url


def _refused(url: str, statement: str) -> bool:
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(statement)
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.RaiseException):
        return True
    return False


def test_a_model_rendering_env_var_of_each_secret_finds_nothing(env, caplog, tmp_path):
    """A model author's `{{ env_var('…') }}`, compiled the way every build runs dbt."""
    secrets = {var: env[var] for var in SECRET_VARS if env.get(var)}
    assert "SVW_PSEUDONYM_KEY" in secrets and "AIRFLOW_CONN_SVW_WAREHOUSE" in secrets
    probe = "|".join(f"{{{{ env_var('{var}', 'absent') }}}}" for var in secrets)
    with caplog.at_level(logging.INFO, logger="social_value.dbt_runner"):
        # Its own target folder: an inline node's compiled file would stay in the build's.
        run_dbt(["compile", "--inline", f"select '{probe}' as leak", "--target-path", str(tmp_path)],
                role_url("transformer"))
    compiled = [r.getMessage() for r in caplog.records if "as leak" in r.getMessage()]
    assert compiled and "|".join(["absent"] * len(secrets)) in compiled[-1]
    for value in secrets.values():
        assert value not in caplog.text
    # cosmos gets the same confined environment (ProjectConfig.env_vars, append_env off), and so
    # does the GX child process.
    assert not set(confined_env(env)) & set(secrets)


@pytest.mark.parametrize("role", sorted(ROLES))
def test_warehouse_roles_cannot_reach_other_databases(env, role):
    for database in ("postgres", env["SVW_AIRFLOW_DB"]):
        with pytest.raises(psycopg.OperationalError, match="permission denied"):
            psycopg.connect(role_url(role, database)).close()


def test_audit_rows_are_append_only_for_the_transformer(env):
    build = f"attack-{os.getpid()}"
    with psycopg.connect(role_url("transformer"), autocommit=True) as conn:
        conn.execute("insert into audit.builds (build_id, load_ids) values (%s, '{}')", (build,))
        conn.execute("update audit.builds set dbt_invocation_id = 'first' where build_id = %s", (build,))
        conn.execute("insert into audit.test_results (build_id, tool, test_name, status) "
                     "values (%s, 'dbt', 'a test', 'fail')", (build,))
    url = role_url("transformer")
    assert _refused(url, f"update audit.test_results set status = 'pass' where build_id = '{build}'")
    assert _refused(url, f"delete from audit.test_results where build_id = '{build}'")
    assert _refused(url, "truncate audit.test_results")
    assert _refused(url, f"update audit.builds set dbt_invocation_id = 'second' where build_id = '{build}'")
    assert _refused(url, "delete from audit.publications")
    assert _refused(url, "alter table audit.builds disable trigger all")
    assert _refused(url, "drop table audit.publications cascade")
    with psycopg.connect(env["SVW_WAREHOUSE_URL"], autocommit=True) as owner:
        assert owner.execute("select status from audit.test_results where build_id = %s",
                             (build,)).fetchall() == [("fail",)]
        owner.execute("delete from audit.test_results where build_id = %s", (build,))
        owner.execute("delete from audit.builds where build_id = %s", (build,))


def test_the_loader_cannot_empty_the_erasure_list(env):
    url = role_url("loader")
    for statement in ("delete from svw_private.erasures", "truncate svw_private.erasures",
                      "drop table svw_private.erasures",
                      "update svw_private.erasure_key set erasure_key = ''",
                      "alter table svw_private.erasures rename to gone"):
        assert _refused(url, statement), statement
    with psycopg.connect(url) as conn:  # it reads the list, which is how loads skip erased people
        conn.execute("select count(*) from svw_private.erasures").fetchone()


@pytest.mark.parametrize("address", ["@example.org", "%@example.org", "*@example.org", "example.org",
                                     "a@example.org, b@example.org", "a@example.org b@example.org",
                                     "a@example", ""])
def test_erase_refuses_anything_but_one_full_address(env, address):
    with pytest.raises(ValueError, match="one full email address"):
        erasure.erase_person(env["SVW_WAREHOUSE_URL"], address, env["SVW_PSEUDONYM_KEY"])


def test_erase_cli_refuses_a_bare_domain_before_connecting():
    done = subprocess.run([sys.executable, "-m", "social_value", "erase", "--email", "@example.org"],
                          cwd=ROOT, env=os.environ, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "one full email address" in done.stderr


def _slack_drop(root: Path, scale) -> None:
    from social_value.simulator import slack as slack_sim
    from social_value.simulator.api import Faults

    (root / "slack").mkdir(parents=True)
    slack_sim.write_export(root / "slack" / "export.zip", scale, Faults())


def test_an_erasure_survives_a_pseudonym_key_rotation(env, tmp_path, make_schema, conn):
    """Erased under one pseudonym key; a load after the key was rotated still skips the person.
    A register of person keys alone (what erasure kept before) would let them back in."""
    from social_value.ingest.intranet import ingest_slack_drop
    from social_value.simulator import slack as slack_sim
    from social_value.simulator.organisation import Scale

    scale = Scale(employees=30, months=3)
    person = next(m for m in slack_sim.members(scale) if m["profile"].get("email") and not m["_left"])
    email = person["profile"]["email"]
    _slack_drop(tmp_path, scale)
    with zipfile.ZipFile(tmp_path / "slack" / "export.zip") as export:
        assert email.encode() in export.read("users.json")
    key = bytes(conn.execute("select erasure_key from svw_private.erasure_key").fetchone()[0])
    email_hash = erasure.erasure_hash(email, key)
    conn.execute("insert into svw_private.erasures (email_hash, person_key) values (%s, %s)",
                 (email_hash, erasure.person_key(email, env["SVW_PSEUDONYM_KEY"])))
    conn.commit()
    try:
        schema = make_schema()
        summary = ingest_slack_drop(env["SVW_WAREHOUSE_URL"], tmp_path, schema=schema,
                                    pseudonym_key="a-rotated-pseudonym-key")
    finally:
        conn.execute("delete from svw_private.erasures where email_hash = %s", (email_hash,))
        conn.commit()
    counts = summary["files"]["export.zip"]
    assert counts["users"]["skipped_erased"] == 1 and counts["messages"]["skipped_erased"] > 0
    assert conn.execute(f'select count(*) from "{schema}".users where lower(email) = %s',
                        (email.lower(),)).fetchone() == (0,)
    assert conn.execute(f'select count(*) from "{schema}".messages where "user" = %s',
                        (person["id"],)).fetchone() == (0,)


def test_erasure_reaches_mentions_quarantine_and_every_id(demo, conn, env):
    """A person known by email, Slack id, Salesforce id and name: the dry run shows what would go
    and changes nothing; the erasure deletes their rows, a quarantined record naming them without
    their email, and masks their ids in other people's messages and opportunities."""
    email, name = "attack.target@example.org", "Atta Target"
    slack_id, sf_id = "UATTACK001", "005ATTACK00000001"
    other_ts = "1790000000.000100"
    load_id = conn.execute("select max(load_id) from raw_meta.loads").fetchone()[0]
    conn.execute("insert into raw_slack.users (id, name, real_name, email, _load_id, _loaded_at, _origin) "
                 "values (%s, 'atta', %s, %s, %s, now(), 'attack')", (slack_id, name, email, load_id))
    conn.execute("insert into raw_salesforce.users (\"Id\", \"Email\", \"Name\", _load_id, _loaded_at, "
                 "_origin) values (%s, %s, %s, %s, now(), 'attack')", (sf_id, email.upper(), name, load_id))
    conn.execute("insert into raw_slack.messages (channel_id, ts, \"user\", text, reactions, _load_id, "
                 "_loaded_at, _origin) values ('CATTACK', %s, 'UOTHER0001', %s, %s, %s, now(), 'attack')",
                 (other_ts, f"thanks <@{slack_id}> and <@UOTHER0002>",
                  f'[{{"name": "+1", "count": 1, "users": ["{slack_id}"]}}]', load_id))
    conn.execute("insert into raw_salesforce.opportunities (\"Id\", \"OwnerId\", _load_id, _loaded_at, "
                 "_origin) values ('006ATTACK00000001', %s, %s, now(), 'attack')", (sf_id, load_id))
    conn.execute("insert into raw_meta.quarantine (load_id, source, stream, origin, reason, payload) "
                 "values (%s, 'slack', 'users', 'attack', 'no key', %s)",
                 (load_id, f'{{"real_name": "{name}", "id": "{slack_id}"}}'))
    conn.commit()
    try:
        would = erasure.erase_person(env["SVW_WAREHOUSE_URL"], email, env["SVW_PSEUDONYM_KEY"], dry_run=True)
        assert would["raw_slack.users"] == 1 and would["raw_salesforce.users"] == 1
        assert would["raw_meta.quarantine"] >= 1 and would["raw_slack.messages.text (masked)"] == 1
        assert conn.execute("select count(*) from raw_slack.users where id = %s",
                            (slack_id,)).fetchone() == (1,)
        assert not conn.execute("select 1 from svw_private.erasures where person_key = %s",
                                (erasure.person_key(email, env["SVW_PSEUDONYM_KEY"]),)).fetchone()

        done = erasure.erase_person(env["SVW_WAREHOUSE_URL"], email, env["SVW_PSEUDONYM_KEY"])
        assert done == would
        left = conn.execute(
            "select (select count(*) from raw_slack.users where id = %(s)s), "
            "(select count(*) from raw_salesforce.users where \"Id\" = %(f)s), "
            "(select count(*) from raw_meta.quarantine where payload like '%%' || %(s)s || '%%'), "
            "(select text || reactions from raw_slack.messages where ts = %(ts)s), "
            "(select \"OwnerId\" from raw_salesforce.opportunities where \"Id\" = '006ATTACK00000001')",
            {"s": slack_id, "f": sf_id, "ts": other_ts}).fetchone()
        assert left[:3] == (0, 0, 0)
        assert slack_id not in left[3] and "<@UOTHER0002>" in left[3] and left[4] is None
    finally:
        conn.rollback()
        conn.execute("delete from raw_slack.messages where channel_id = 'CATTACK'")
        conn.execute("delete from raw_salesforce.opportunities where \"Id\" = '006ATTACK00000001'")
        conn.execute("delete from raw_slack.users where id = %s", (slack_id,))
        conn.execute("delete from raw_salesforce.users where \"Id\" = %s", (sf_id,))
        conn.execute("delete from raw_meta.quarantine where origin = 'attack'")
        conn.execute("delete from svw_private.erasures where person_key = %s",
                     (erasure.person_key(email, env["SVW_PSEUDONYM_KEY"]),))
        conn.commit()


def test_min_group_size_can_be_raised_and_the_unit_tests_still_pass(demo, env, tmp_path):
    """The documented privacy setting: raised, every unit test (which fix their own threshold)
    passes and every model compiles. Its own target folder: the build's stays as it was."""
    from social_value.dbt_runner import DBT_DIR, dbt_env, summarise

    done = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "test", "--resource-type", "unit_test",
         "--vars", "{min_group_size: 12}", "--target-path", str(tmp_path), "--project-dir", str(DBT_DIR)],
        cwd=DBT_DIR, env={**confined_env(), **dbt_env(role_url("transformer"))},
        capture_output=True, text=True, timeout=600)
    summary = summarise(tmp_path / "run_results.json")
    assert done.returncode == 0, done.stdout[-3000:]
    assert summary["tests"] > 0 and summary["tests_passed"] == summary["tests"]


def test_compiled_sql_names_no_source_id_and_its_cache_is_private(demo, conn, env, tmp_path):
    """The incremental models' redo lists reach Postgres as sub-selects: no Slack user id or survey
    response id is written into compiled SQL (dbt's target/, the cosmos cache), which is private."""
    from social_value.cosmos_build import private_cache_dir
    from social_value.dbt_runner import DBT_DIR, dbt_env

    ids = {value for (value,) in conn.execute(
        "select id from raw_slack.users union select id from raw_surveymonkey.responses")}
    assert len(ids) > 10
    # Compiled as the next build would: incremental, the redo lists read from the built tables.
    done = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "compile", "-s", "int_messages",
         "int_survey_response_fields", "--target-path", str(tmp_path), "--project-dir", str(DBT_DIR)],
        cwd=DBT_DIR, env={**confined_env(), **dbt_env(role_url("transformer"))},
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]
    compiled = list((tmp_path / "compiled").rglob("int_messages.sql"))
    assert compiled and "any(array(" in compiled[0].read_text()
    cache = private_cache_dir()
    assert cache.stat().st_mode & 0o077 == 0
    scanned = 0
    for folder in (tmp_path, DBT_DIR / "target", cache):
        for path in (path for path in folder.rglob("*.sql") if path.is_file()):
            text = path.read_text(errors="replace")
            scanned += 1
            leaked = [value for value in ids if f"'{value}'" in text]
            assert not leaked, f"{path} names source ids {leaked[:3]}"
    assert scanned > 20
