"""Read a line-based file (NDJSON, CSV) without ever holding one line longer than a bound.

A file may hold one line of hundreds of megabytes; iterating over it line by line would hold that
line whole. NDJSON is one record per line, so an overlong line is skipped (in chunks) and reported
as an Oversized for the caller to quarantine. A CSV record may span lines inside quotes, so an
overlong line cannot be skipped safely: it stops the file with a ValueError (the file is rejected).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, TextIO

from social_value.connectors.json_stream import Oversized

_CHUNK = 1 << 16


def bounded_lines(handle: BinaryIO, max_bytes: int) -> Iterator[tuple[int, bytes | Oversized]]:
    """(line number, line) of a binary file; a line over `max_bytes` as an Oversized, read past
    without being held."""
    number = 0
    while line := handle.readline(max_bytes + 1):
        number += 1
        if len(line) <= max_bytes or line.endswith(b"\n"):
            yield number, line
            continue
        head, size = line[:1000].decode("utf-8", "backslashreplace"), len(line)
        while not line.endswith(b"\n") and (line := handle.readline(_CHUNK)):
            size += len(line)
        yield number, Oversized(number - 1, size, head)


def csv_lines(handle: TextIO, max_chars: int) -> Iterator[str]:
    """The lines of a text file for csv.reader; a line over `max_chars` raises ValueError."""
    number = 0
    while line := handle.readline(max_chars + 1):
        number += 1
        if len(line) > max_chars and not line.endswith(("\n", "\r")):
            raise ValueError(f"line {number} is over {max_chars:,} characters (SVW_DROP_MAX_RECORD_MB)")
        yield line
