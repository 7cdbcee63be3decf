"""The sources at a benchmark scale: the simulator's HTTP server in a process of its own on its own
port (answering from a response cache when given one), and its file drops written into a folder,
up to a day or from a day on."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from social_value.bench.scales import BenchScale
from social_value.simulator import drops, response_cache


def free_port() -> int:
    """A TCP port nobody listens on now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def simulator(scale: BenchScale, port: int, cache_dir: Path | None = None) -> Iterator[str]:
    """Serve the simulator at `scale` on 127.0.0.1:`port`; yields its base URL once it listens.
    With `cache_dir` it keeps its answers there and serves repeated requests from them
    (simulator/response_cache.py); without, it generates every answer, whatever the environment says."""
    command = [sys.executable, "-m", "social_value.simulator.server", "--port", str(port), "--employees",
               str(scale.employees), "--months", str(scale.months), "--seed", str(scale.seed), "--faults", ""]
    if cache_dir:
        command += ["--cache-dir", str(cache_dir)]
    env = {k: v for k, v in os.environ.items() if k != response_cache.CACHE_DIR_VARIABLE}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        # The server prints its one line after binding; a taken port ends it before that.
        if "listening" not in (process.stdout.readline() if process.stdout else ""):
            raise RuntimeError(f"the simulator did not start on port {port} (exit {process.wait()})")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait()


def write_drops(folder: Path, scale: BenchScale, since: datetime | None, until: datetime | None) -> int:
    """Write the file drops of [since, until) into `folder`; returns the bytes written."""
    paths = drops.write_all(folder, scale.simulated, since=since, until=until)
    return sum(path.stat().st_size for path in paths)
