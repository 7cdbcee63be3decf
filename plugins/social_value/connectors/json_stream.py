"""Read a JSON array of objects one element at a time, so a large export file is never held whole.

An element longer than `max_chars` is not decoded: it is skipped by a scan that keeps only its
depth and string state, and an `Oversized` stands in its place (the caller quarantines it), so
memory stays bounded whatever one record holds. Invalid JSON is reported where it is found,
without reading the rest of the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

_DECODER = json.JSONDecoder()
_CHUNK = 1 << 16
# An error this close to the buffer's end may be a record cut by the chunk border: read more.
_NEAR_END = 16
_OUTSIDE = re.compile(r'["\[\]{},]')
_INSIDE = re.compile(r'["\\]')


@dataclass(frozen=True)
class Oversized:
    """An element skipped for its size: its place, length (characters) and first characters."""

    index: int
    chars: int
    head: str


def iter_json_array(stream: IO[str], max_chars: int | None = None) -> Iterator[object]:
    """Yield the elements of the top-level JSON array in `stream` (text mode); an element over
    `max_chars` characters as an Oversized."""
    buffer = stream.read(_CHUNK).lstrip("\ufeff \t\r\n")
    if not buffer.startswith("["):
        raise ValueError("expected a JSON array")
    position, index = 1, 0
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
            except json.JSONDecodeError as error:
                if error.pos < len(buffer) - _NEAR_END and not error.msg.startswith("Unterminated string"):
                    raise ValueError(f"element {index + 1}: {error.msg}") from error
                held = len(buffer) - position
                if max_chars is not None and held > max_chars:
                    element, buffer, end = _skip(stream, buffer, position, index)
                    break
                # Grow by what is held (geometrically: a long element is decoded O(log n) times, not
                # O(n)), never past the bound.
                wanted = max(_CHUNK, held)
                more = stream.read(wanted if max_chars is None else min(wanted, max_chars + 1 - held))
                if not more:
                    raise ValueError(f"element {index + 1}: {error.msg} (the file ends inside it)") from error
                buffer, position = buffer[position:] + more, 0
        yield element
        index += 1
        position = end  # no slicing per element: the buffer is only rebuilt when refilled


def _skip(stream: IO[str], buffer: str, position: int, index: int) -> tuple[Oversized, str, int]:
    """Scan past the element starting at `position` holding one chunk at a time; the Oversized,
    the buffer holding what follows it and the element's end in that buffer."""
    head, skipped = buffer[position:position + 1000], 0
    depth, in_string, escaped = 0, False, False
    at = position
    while True:
        if escaped:  # the character after a backslash that ended the previous chunk
            at, escaped = at + 1, False
        while at < len(buffer):
            if in_string:
                match = _INSIDE.search(buffer, at)
                if not match:
                    at = len(buffer)
                    break
                at = match.end()
                if match.group() == "\\":
                    if at >= len(buffer):
                        escaped = True
                        break
                    at += 1
                else:
                    in_string = False
                    if depth == 0:
                        return Oversized(index, skipped + at - position, head), buffer, at
                continue
            match = _OUTSIDE.search(buffer, at)
            if not match:
                at = len(buffer)
                break
            char = match.group()
            if char == '"':
                in_string, at = True, match.end()
            elif char in "[{":
                depth, at = depth + 1, match.end()
            elif char in "]}" and depth > 0:
                depth, at = depth - 1, match.end()
                if depth == 0:
                    return Oversized(index, skipped + at - position, head), buffer, at
            else:  # "," or the array's "]" after a scalar element at depth 0
                if depth == 0:
                    return Oversized(index, skipped + match.start() - position, head), buffer, match.start()
                at = match.end()
        more = stream.read(_CHUNK)
        if not more:
            raise ValueError(f"element {index + 1}: the file ends inside it")
        skipped += len(buffer) - position
        at -= len(buffer)
        buffer, position = more, 0

