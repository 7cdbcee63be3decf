"""A dropped file rejected whole, with the reason: nothing of it lands, and retrying cannot help.

Raised by a file's reader when the file as a whole is unusable (e.g. an events CSV without a
required column); file-drop ingestion records it where auditors look and lands the files beside it.
"""

from __future__ import annotations


class RejectedFileError(ValueError):
    """`file` (and `member`, for an archive) rejected for `reason`."""

    def __init__(self, file: str, reason: str, member: str | None = None) -> None:
        self.file, self.member, self.reason = file, member, reason
        where = f"{file}:{member}" if member else file
        super().__init__(f"{where} rejected: {reason}")
