"""What the simulator's source modules share: requests, responses, fault switches.

Each source module (viva_engage, salesforce, surveymonkey, ...) exposes ROUTES, a list of
(path regex, handler) pairs; a handler takes a Request and returns a Response. Transport faults
(429, 5xx, timeouts, truncated bodies) are applied by the server to every route alike; format faults
(BOM, NUL bytes, invalid UTF-8, CRLF, schema drift, date formats, duplicates across pages, ...) are
applied by the source modules where their format allows them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from social_value.simulator.organisation import Scale

# Every switch the simulator knows; SVW_SIM_FAULTS / --faults takes a comma-separated subset.
TRANSPORT_FAULTS = {"429", "500", "503", "timeout", "truncate"}
FORMAT_FAULTS = {"duplicates", "bom", "nul", "invalid_utf8", "crlf", "quoted_newlines", "extra_columns",
                 "missing_columns", "date_formats", "empty_numbers", "concealed_names",
                 "graph_retention"}


@dataclass(frozen=True)
class Faults:
    enabled: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str | None) -> Faults:
        names = frozenset(part.strip() for part in (text or "").split(",") if part.strip())
        unknown = names - TRANSPORT_FAULTS - FORMAT_FAULTS
        if unknown:
            raise ValueError(f"unknown fault switch(es): {', '.join(sorted(unknown))}; known: "
                             f"{', '.join(sorted(TRANSPORT_FAULTS | FORMAT_FAULTS))}")
        return cls(names)

    def __contains__(self, name: str) -> bool:
        return name in self.enabled


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    scale: Scale
    faults: Faults
    base_url: str
    match: re.Match | None = None

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(payload: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(payload, ensure_ascii=False).encode(), "application/json",
                    headers or {})


Handler = Callable[[Request], Response]
