"""Limits on what one dropped file may hold, so no input can exhaust the loader's memory or disk.

An archive member larger than `max_member_bytes`, or one that inflates more than `max_ratio`
times its compressed size (a zip bomb), rejects its file. A single JSON record larger than
`max_record_bytes` is quarantined (the stream skips it without holding it). A member the fast path
would read whole (a Slack day file) larger than `fast_path_member_bytes` sends its export down the
streaming row path. Each limit has an environment variable (sizes in MiB).
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from social_value.rejections import RejectedFileError

MIB = 1 << 20
# Small members may compress far better than any limit (an empty channel's "[]" padded with
# white space); the ratio is only asked of members that would cost something to inflate.
RATIO_FLOOR_BYTES = 1 * MIB
SUPPORTED_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


@dataclass(frozen=True)
class DropLimits:
    max_member_bytes: int = 1024 * MIB
    max_ratio: float = 100.0
    max_record_bytes: int = 4 * MIB
    fast_path_member_bytes: int = 8 * MIB

    @classmethod
    def from_env(cls) -> DropLimits:
        def mib(name: str, default: int) -> int:
            return int(float(os.environ.get(name, default / MIB)) * MIB)

        defaults = cls()
        return cls(mib("SVW_DROP_MAX_MEMBER_MB", defaults.max_member_bytes),
                   float(os.environ.get("SVW_DROP_MAX_RATIO", defaults.max_ratio)),
                   mib("SVW_DROP_MAX_RECORD_MB", defaults.max_record_bytes),
                   mib("SVW_DROP_FAST_MEMBER_MB", defaults.fast_path_member_bytes))

    def check_archive(self, archive: zipfile.ZipFile) -> None:
        """Reject the archive at its first member that is encrypted, compressed in a way we cannot
        read or over a limit, by what its directory states (reading stops at the stated size: a
        member that holds more fails its CRC check)."""
        name = Path(str(archive.filename)).name
        for info in archive.infolist():
            if info.flag_bits & 0x1:
                raise RejectedFileError(name, "member is encrypted (export it without a password)",
                                        info.filename)
            if info.compress_type not in SUPPORTED_COMPRESSION:
                raise RejectedFileError(name, f"member uses compression method {info.compress_type}, "
                                        "which cannot be read (export with deflate)", info.filename)
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > RATIO_FLOOR_BYTES and ratio > self.max_ratio:
                raise RejectedFileError(name, f"member inflates {ratio:,.0f} times ({info.compress_size:,} → "
                                        f"{info.file_size:,} bytes), over the limit of {self.max_ratio:g} "
                                        "(SVW_DROP_MAX_RATIO): a zip bomb?", info.filename)
            if info.file_size > self.max_member_bytes:
                raise RejectedFileError(name, f"member inflates to {info.file_size:,} bytes, over the "
                                        f"limit of {self.max_member_bytes:,} (SVW_DROP_MAX_MEMBER_MB)",
                                        info.filename)
