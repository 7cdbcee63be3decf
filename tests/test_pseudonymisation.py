"""Person keys: the SQL HMAC (dbt macro over the stored pads) equals Python's hmac module."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from social_value.settings import ConfigError
from social_value.warehouse_setup import hmac_pads, setup


@pytest.mark.parametrize("key", ["k", "a-much-longer-secret-key-" * 4])
def test_sql_hmac_matches_python(conn, key):
    inner, outer = hmac_pads(key.encode())
    email = "anna.de.vries@example.org"
    sql_key = conn.execute(
        "select encode(sha256(%(outer)s || sha256(%(inner)s || convert_to(%(msg)s, 'UTF8'))), 'hex')",
        {"inner": inner, "outer": outer, "msg": email}).fetchone()[0]
    assert sql_key == hmac.new(key.encode(), email.encode(), hashlib.sha256).hexdigest()


def test_setup_without_key_stops_with_clear_error(warehouse_url):
    with pytest.raises(ConfigError, match="SVW_PSEUDONYM_KEY is not set"):
        setup(warehouse_url, None, None)
