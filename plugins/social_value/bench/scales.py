"""The benchmark's named scales: S is the demo, L the goal (20,000 employees × 12 months, at least
10 million activity rows). `EMPLOYEESxMONTHS` (e.g. `20x2`) names any other."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from social_value.simulator.organisation import Scale


@dataclass(frozen=True)
class BenchScale:
    name: str
    employees: int
    months: int
    seed: int = Scale.seed

    @property
    def simulated(self) -> Scale:
        return Scale(self.employees, self.months, self.seed)

    @property
    def final_until(self) -> datetime:
        """The end of the simulated period: the second load's `until` (the last day included)."""
        end = self.simulated.end
        return datetime.combine(end.date() + timedelta(days=1), datetime.min.time(), UTC)

    @property
    def first_until(self) -> datetime:
        """The first load's `until`: the simulated end minus one day (the last day comes later)."""
        return self.final_until - timedelta(days=1)

    def history_days(self, until: datetime) -> int:
        """Graph reports to read on a first load up to `until`: back to the simulation's first day."""
        return (until.date() - self.simulated.start.date()).days


NAMED = {
    "S": BenchScale("S", 60, 6),
    "M": BenchScale("M", 2_000, 12),
    "L": BenchScale("L", 20_000, 12),
}


def parse(names: str) -> list[BenchScale]:
    """`S,M,L` or `20x2` (employees × months) → scales, in the order given."""
    scales = []
    for name in filter(None, (part.strip() for part in names.split(","))):
        if name.upper() in NAMED:
            scales.append(NAMED[name.upper()])
        elif "x" in name.lower():
            employees, months = name.lower().split("x")
            scales.append(BenchScale(name.lower(), int(employees), int(months)))
        else:
            raise ValueError(f"unknown scale {name!r}: use S, M, L or EMPLOYEESxMONTHS (e.g. 20x2)")
    return scales
