"""File drops: the exports that arrive as files rather than over HTTP (Slack workspace export,
activity events, Qualtrics CSV). Each module's DROPS maps a relative path under the drop folder
to a writer `(path: Path, scale: Scale, faults: Faults) -> None`.

`python -m social_value.simulator.drops --out DIR` writes them all. With `--since`/`--until`
(days, UTC) the Slack export and the activity events cover only [since, until), in files named for
the window beside any earlier ones, so a later drop delivers the next days: generation is
deterministic, so the days of both drops are exactly those of one whole drop. Qualtrics exports are
always whole and are written only by a drop without `--since`.
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, date, datetime
from pathlib import Path

from social_value.simulator import activity_events, qualtrics, slack
from social_value.simulator.api import Faults
from social_value.simulator.organisation import Scale

DROPS = {**slack.DROPS, **activity_events.DROPS, **qualtrics.DROPS}


WINDOWED = {**slack.DROPS, **activity_events.DROPS}


def write_all(out: Path, scale: Scale, faults: Faults | None = None, since: datetime | None = None,
              until: datetime | None = None) -> list[Path]:
    written = []
    for relative, writer in DROPS.items():
        if since and relative not in WINDOWED:
            continue
        path = out / _windowed(relative, since, until) if relative in WINDOWED else out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if relative in WINDOWED and (since or until):
            writer(path, scale, faults or Faults(), since=since, until=until)
        else:
            writer(path, scale, faults or Faults())
        written.append(path)
    return written


def _windowed(relative: str, since: datetime | None, until: datetime | None) -> str:
    """`slack/workspace-export.zip` → `slack/workspace-export-start-2026-10-31.zip` (until 31 Oct)."""
    if not since and not until:
        return relative
    stem, _, suffix = relative.rpartition(".")
    low = since.strftime("%Y-%m-%d") if since else "start"
    high = until.strftime("%Y-%m-%d") if until else "end"
    return f"{stem}-{low}-{high}.{suffix}"


def _day(text: str) -> datetime:
    return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the simulator's file drops")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("SVW_DROP_DIR", "drops")))
    parser.add_argument("--employees", type=int, default=Scale.employees)
    parser.add_argument("--months", type=int, default=Scale.months)
    parser.add_argument("--seed", type=int, default=Scale.seed)
    parser.add_argument("--faults", default=os.environ.get("SVW_SIM_FAULTS", ""))
    parser.add_argument("--since", type=_day, help="first day (YYYY-MM-DD, UTC) of the Slack and events drop")
    parser.add_argument("--until", type=_day, help="the day (YYYY-MM-DD, UTC) the drop stops before")
    args = parser.parse_args()
    scale = Scale(args.employees, args.months, args.seed)
    for path in write_all(args.out, scale, Faults.parse(args.faults), args.since, args.until):
        print(path)


if __name__ == "__main__":
    main()
