"""A dropped file that must be rejected whole: it is not what its source sends (not an archive,
corrupt, over a size limit, an unknown layout, required columns missing).

Raised by connectors; the file-drop ingest (ingest/file_drops.py) records the file, member and
reason where auditors see them and does not read the file again until its content changes.
"""

from __future__ import annotations


class RejectedFileError(ValueError):
    """`file` cannot be landed (`member`: the part of an archive at fault, if any) for `reason`."""

    def __init__(self, file: str, reason: str, member: str | None = None) -> None:
        self.file, self.reason, self.member = file, reason, member
        where = f"{file}:{member}" if member else file
        super().__init__(f"{where}: {reason}")
