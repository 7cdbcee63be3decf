"""The peak resident memory of this process's own program.

getrusage's ru_maxrss is not that for a child started by subprocess: Linux carries the peak over
exec, and Python starts children with vfork, so the child reports at least its parent's RSS at the
moment it was started. The benchmark's parent held 75 MiB at L while the loader itself peaked near
50, which made the loader look as if it grew with the data. /proc's VmHWM is the high-water mark
of the running program's own memory.
"""

from __future__ import annotations

import resource


def peak_rss_mib() -> float:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # without /proc: KiB on Linux
