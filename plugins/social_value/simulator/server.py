"""The source simulator's HTTP server: the real systems' endpoints on 127.0.0.1.

Routes come from the source modules (each exposes ROUTES); every request needs the bearer token
the connectors send. Transport faults are applied here to every route alike, deterministically:
the enabled ones, in the order 429 (with Retry-After), 500, 503, timeout (a stall longer than a
client should wait), truncate (a body cut short), each take the next request to a path, so with
all five on, requests 1 to 5 of each path fail once each. Retrying connectors recover from all.

With a cache directory (`--cache-dir`, SVW_SIMULATOR_CACHE_DIR; off by default) answers are kept
on disk and repeated requests are served from there without generating them again
(simulator/response_cache.py); the faults apply to cached answers alike.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

from social_value.simulator import msgraph, organisation, salesforce, surveymonkey, viva_engage
from social_value.simulator.api import Faults, Request, Response, json_response
from social_value.simulator.response_cache import CACHE_DIR_VARIABLE, CachedResponse, ResponseCache

log = logging.getLogger(__name__)

ROUTES = [*viva_engage.ROUTES, *msgraph.ROUTES, *salesforce.ROUTES, *surveymonkey.ROUTES]
TIMEOUT_STALL_SECONDS = 5.0


class Handler(BaseHTTPRequestHandler):
    scale = organisation.Scale()
    token = ""
    faults = Faults()
    cache: ResponseCache | None = None
    seen: ClassVar[Counter] = Counter()  # requests per path, for the deterministic faults
    lock: ClassVar[threading.Lock] = threading.Lock()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        log.info("simulator: " + format, *args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        if self.headers.get("Authorization") != f"Bearer {self.token}":
            self._send(json_response({"error": "invalid or missing bearer token"}, 401))
            return
        with self.lock:
            self.seen[url.path] += 1
            nth = self.seen[url.path]
        # Each enabled transport fault takes the next request to this path, in this order.
        schedule = [name for name in ("429", "500", "503", "timeout", "truncate") if name in self.faults]
        fault = schedule[nth - 1] if nth <= len(schedule) else None
        if fault == "429":
            self._send(json_response({"error": "rate limited"}, 429, {"Retry-After": "1"}))
            return
        if fault in ("500", "503"):
            self._send(json_response({"error": "server error"}, int(fault)))
            return
        if fault == "timeout":
            time.sleep(TIMEOUT_STALL_SECONDS)
        key = self.cache.key(method, self.path, self.headers) if self.cache else None
        if key:
            cached = self.cache.get(key)
            if cached:
                try:
                    self._send_cached(cached, truncate=fault == "truncate")
                finally:
                    cached.close()
                return
        request = Request(method, url.path, parse_qs(url.query), self.headers, self.scale, self.faults,
                          f"http://{self.headers.get('Host', '127.0.0.1')}")
        for pattern, handler in ROUTES:
            match = pattern.fullmatch(url.path)
            if match:
                request.match = match
                response = handler(request)
                if key and response.status == 200:
                    self.cache.put(key, response)  # whole, even when this answer is cut short
                if fault == "truncate" and response.status == 200:
                    self._send(response, truncate=True)
                else:
                    self._send(response)
                return
        self._send(json_response({"error": f"no such endpoint: {url.path}"}, 404))

    def _send(self, response: Response, truncate: bool = False) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        # A truncated body promises more bytes than it sends, as a dropped connection does.
        self.wfile.write(response.body[: len(response.body) // 2] if truncate else response.body)

    def _send_cached(self, cached: CachedResponse, truncate: bool = False) -> None:
        """As _send, the body streamed from the cache file to the socket (never read into memory)."""
        self.send_response(cached.status)
        self.send_header("Content-Type", cached.content_type)
        self.send_header("Content-Length", str(cached.length))
        for name, value in cached.headers.items():
            self.send_header(name, value)
        self.end_headers()
        count = cached.length // 2 if truncate else cached.length
        if count:
            self.connection.sendfile(cached.file, cached.offset, count)


def serve(port: int, token: str, scale: organisation.Scale, faults: Faults | None = None,
          cache_dir: Path | str | None = None) -> ThreadingHTTPServer:
    """The simulator's server (not yet serving); with `cache_dir`, answers are cached there."""
    faults = faults or Faults()
    handler = type("BoundHandler", (Handler,), {
        "scale": scale, "token": token, "faults": faults, "seen": Counter(), "lock": threading.Lock(),
        "cache": ResponseCache(cache_dir, scale, faults) if cache_dir else None})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the source simulator on 127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--employees", type=int, default=organisation.Scale.employees)
    parser.add_argument("--months", type=int, default=organisation.Scale.months)
    parser.add_argument("--seed", type=int, default=organisation.Scale.seed)
    parser.add_argument("--faults", default=os.environ.get("SVW_SIM_FAULTS", ""),
                        help="comma-separated fault switches (see simulator/api.py)")
    parser.add_argument("--cache-dir", default=os.environ.get(CACHE_DIR_VARIABLE) or None,
                        help="answer repeated requests from responses kept in this folder "
                             f"(simulator/response_cache.py; default ${CACHE_DIR_VARIABLE}, else off)")
    args = parser.parse_args()
    token = os.environ.get("SVW_SOURCE_TOKEN")
    if not token:
        raise SystemExit("SVW_SOURCE_TOKEN is not set: the simulator checks the same bearer token "
                         "the connectors send")
    logging.basicConfig(level=logging.WARNING)
    server = serve(args.port, token, organisation.Scale(args.employees, args.months, args.seed),
                   Faults.parse(args.faults), args.cache_dir)
    cached = f", answers cached in {args.cache_dir}" if args.cache_dir else ""
    print(f"simulator listening on http://127.0.0.1:{args.port}{cached}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
