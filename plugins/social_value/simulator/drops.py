"""File drops: the exports that arrive as files rather than over HTTP (Slack workspace export,
activity events, Qualtrics CSV). Each module's DROPS maps a relative path under the drop folder
to a writer `(path: Path, scale: Scale, faults: Faults) -> None`.

`python -m social_value.simulator.drops --out DIR` writes them all.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from social_value.simulator import activity_events, qualtrics, slack
from social_value.simulator.api import Faults
from social_value.simulator.organisation import Scale

DROPS = {**slack.DROPS, **activity_events.DROPS, **qualtrics.DROPS}


def write_all(out: Path, scale: Scale, faults: Faults | None = None) -> list[Path]:
    written = []
    for relative, writer in DROPS.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        writer(path, scale, faults or Faults())
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the simulator's file drops")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("SVW_DROP_DIR", "drops")))
    parser.add_argument("--employees", type=int, default=Scale.employees)
    parser.add_argument("--months", type=int, default=Scale.months)
    parser.add_argument("--seed", type=int, default=Scale.seed)
    parser.add_argument("--faults", default=os.environ.get("SVW_SIM_FAULTS", ""))
    args = parser.parse_args()
    scale = Scale(args.employees, args.months, args.seed)
    for path in write_all(args.out, scale, Faults.parse(args.faults)):
        print(path)


if __name__ == "__main__":
    main()
