"""The dbt semantic layer: dbt parse validates it, and it defines every metric key of METRICS.md the
way it rolls up (ratios from summed numerators and denominators, never averaged rates)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT

from social_value.report_metrics import CATALOGUE

METRICS_MD = ROOT.parent / "shared" / "METRICS.md"


def metric_keys_of_the_dictionary() -> set[str]:
    """Every key in METRICS.md's tables (a row may name several: `posts, replies` or `a / b`)."""
    keys = set()
    for line in METRICS_MD.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\|\s*([a-z_]+(?:\s*[,/]\s*[a-z_]+)*)\s*\|", line)
        if match and match.group(1) != "key":
            keys.update(part.strip() for part in re.split(r"[,/]", match.group(1)))
    return keys


@pytest.fixture(scope="module")
def semantic_manifest(env, tmp_path_factory) -> dict:
    target = tmp_path_factory.mktemp("dbt_target")
    dbt = Path(os.sys.executable).with_name("dbt")
    result = subprocess.run([str(dbt), "parse", "--target-path", str(target)], cwd=ROOT / "dbt", env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads((target / "semantic_manifest.json").read_text())


@pytest.mark.skipif(not METRICS_MD.exists(), reason="the specs folder is not beside the checkout")
def test_every_metric_key_has_a_semantic_metric_and_a_report_entry(semantic_manifest):
    keys = metric_keys_of_the_dictionary()
    assert {"registered_users", "downloads", "opportunities_won", "delivery_margin_other", "nps"} <= keys
    assert keys <= {metric["name"] for metric in semantic_manifest["metrics"]}
    assert keys == {item.key for item in CATALOGUE}


def test_metrics_roll_up_by_their_kind(semantic_manifest):
    metrics = {metric["name"]: metric for metric in semantic_manifest["metrics"]}
    for item in CATALOGUE:
        definition = metrics[item.key]
        filters = json.dumps(definition)
        assert f"= '{item.key}'" in filters, item.key  # every metric reads its own key only
        if item.unit == "share" or item.key == "actions_per_active_user":
            assert definition["type"] == "ratio", item.key
            params = definition["type_params"]
            assert (params["numerator"]["name"], params["denominator"]["name"]) == (
                "metric_values_numerator", "metric_values_denominator")
    assert metrics["nps"]["type"] == "derived" and "100" in metrics["nps"]["type_params"]["expr"]
    measure = {name: metrics[name]["type_params"]["measure"]["name"]
               for name in ("posts", "registered_users", "median_days_to_quote")}
    assert measure == {"posts": "summed_value", "registered_users": "last_value",
                       "median_days_to_quote": "last_value"}


def test_time_spine_is_configured_in_yaml(semantic_manifest):
    spines = semantic_manifest["project_configuration"]["time_spines"]
    assert [(s["node_relation"]["relation_name"], s["primary_column"]) for s in spines] == [
        ('"{}"."marts"."metricflow_time_spine"'.format(spines[0]["node_relation"]["database"]),
         {"name": "date_day", "time_granularity": "day"})]
