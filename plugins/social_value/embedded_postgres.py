"""The embedded default: a PostgreSQL 16 server from the `pgserver` wheel, in a folder of the checkout.

We drive the wheel's binaries ourselves rather than `pgserver.get_server()` because BI tools need
TCP on 127.0.0.1 with password logins, while the wheel's helper listens on a Unix socket only.
Postgres refuses to run as root; as root we run it as the wheel's `pgserver` system user.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from social_value import settings

OWNER = "svw"


def _bin(name: str) -> str:
    from pgserver._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _run_as() -> str | None:
    """The system user postgres runs as: the wheel's own user when we are root."""
    if os.geteuid() != 0:
        return None
    from pgserver._commands import POSTGRES_BIN_PATH
    from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists("pgserver")
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", 0o044)
    return "pgserver"


def _chown(path: Path, user: str | None) -> None:
    if user:
        import pwd

        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def data_dir() -> Path:
    return settings.STATE_DIR / "pgdata"


def url(password: str, database: str = settings.EMBEDDED_DB, user: str = OWNER) -> str:
    return f"postgresql://{user}:{password}@127.0.0.1:{settings.embedded_port()}/{database}"


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def is_running() -> bool:
    pid_file = data_dir() / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        os.kill(int(pid_file.read_text().split()[0]), 0)
    except (ProcessLookupError, ValueError):
        return False
    return True


def start(owner_password: str) -> None:
    """Initialise (first time) and start the server; a no-op when it already runs."""
    pgdata = data_dir()
    if (pgdata / "PG_VERSION").exists() and is_running():
        return  # every command calls this: skip the permission walk below when nothing is to do
    user = _run_as()
    if not (pgdata / "PG_VERSION").exists():
        pgdata.mkdir(parents=True, exist_ok=True)
        pgdata.chmod(0o700)
        if user:
            from pgserver.utils import ensure_prefix_permissions

            ensure_prefix_permissions(pgdata)
        _chown(pgdata, user)
        with tempfile.NamedTemporaryFile("w", dir=pgdata.parent, delete=False) as pwfile:
            pwfile.write(owner_password)
        _chown(Path(pwfile.name), user)
        try:
            subprocess.run(
                [_bin("initdb"), "-D", str(pgdata), "-U", OWNER, f"--pwfile={pwfile.name}",
                 "--auth-host=scram-sha-256", "--auth-local=peer", "--encoding=UTF8",
                 "--locale=C.UTF-8"],
                check=True, capture_output=True, text=True, user=user,
            )
        finally:
            os.unlink(pwfile.name)
    if is_running():
        return
    port = settings.embedded_port()
    if _port_open(port):
        raise settings.ConfigError(
            f"port {port} on 127.0.0.1 is taken by another server: set SVW_PG_PORT to a free port"
        )
    log = pgdata / "server.log"
    # TCP only: no Unix socket, so a long checkout path cannot break the socket name limit.
    # max_wal_size: a replayed incremental build at L wrote 630 MB of WAL; with the default 1 GB,
    # checkpoints came 22 s apart during one (the server log), each making the next writes log whole pages
    # (docs/performance.md, 2026-11-28 11:28).
    options = (f"-h 127.0.0.1 -p {port} -c unix_socket_directories='' -c max_connections=200 "
               "-c max_wal_size=4GB")
    result = subprocess.run(
        [_bin("pg_ctl"), "-D", str(pgdata), "-w", "-t", "60", "-l", str(log), "-o", options, "start"],
        capture_output=True, text=True, user=user,
    )
    if result.returncode != 0:
        tail = log.read_text()[-2000:] if log.exists() else result.stderr
        raise RuntimeError(f"embedded Postgres did not start (log {log}):\n{tail}")
    for _ in range(100):
        if _port_open(port):
            return
        time.sleep(0.1)


def stop() -> None:
    if is_running():
        subprocess.run(
            [_bin("pg_ctl"), "-D", str(data_dir()), "-w", "-m", "fast", "stop"],
            check=True, capture_output=True, text=True, user=_run_as(),
        )


def psql_binary() -> str:
    return _bin("psql")
