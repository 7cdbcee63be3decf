"""Read a JSON array of objects one element at a time, so a large export file is never held whole."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO

_DECODER = json.JSONDecoder()
_CHUNK = 1 << 16


def iter_json_array(stream: IO[str]) -> Iterator[object]:
    """Yield the elements of the top-level JSON array in `stream` (text mode)."""
    buffer = stream.read(_CHUNK).lstrip("\ufeff \t\r\n")
    if not buffer.startswith("["):
        raise ValueError("expected a JSON array")
    position = 1
    while True:
        # Skip separators; refill when the buffer runs dry.
        while True:
            while position < len(buffer) and buffer[position] in " \t\r\n,":
                position += 1
            if position < len(buffer):
                break
            more = stream.read(_CHUNK)
            if not more:
                raise ValueError("unexpected end of JSON array")
            buffer, position = more, 0
        if buffer[position] == "]":
            return
        while True:
            try:
                element, end = _DECODER.raw_decode(buffer, position)
                break
            except json.JSONDecodeError:
                more = stream.read(_CHUNK)
                if not more:
                    raise
                buffer, position = buffer[position:] + more, 0
        yield element
        position = end  # no slicing per element: the buffer is only rebuilt when refilled
