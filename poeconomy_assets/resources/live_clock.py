"""What time it is for live ingestion: the wall clock, or a simulated one that the demo and tests control.

The sensors and the ingestion asset read the time through this resource, never through a Dagster internal, so a
test can freeze it (``LiveClock.frozen(at)``) and the live demo or a daemon test can run it faster than real time,
in step with the local POE Watch server (``LiveClock.accelerated(start, speed)``). Every process that shares the
settings (the daemon, each run worker) computes the same simulated time, because the clock is anchored to a wall
time rather than to when the process started.
"""

import time
from datetime import UTC, datetime

import dagster as dg

from poeconomy_assets.core.ingest import SLOT_SECONDS


class LiveClock(dg.ConfigurableResource):
    """``simulated_start`` is the simulated time at wall time ``wall_start`` (epoch seconds); it then runs at
    ``speed`` × real time (0: frozen). Without ``simulated_start`` it is the wall clock (production)."""

    simulated_start: str | None = None  # ISO 8601 with an offset, e.g. "2025-06-20T12:00:00Z"
    wall_start: float = 0.0
    speed: float = 1.0

    @classmethod
    def frozen(cls, at: datetime) -> "LiveClock":
        return cls(simulated_start=at.astimezone(UTC).isoformat(), wall_start=time.time(), speed=0.0)

    @classmethod
    def accelerated(cls, start: datetime, speed: float, wall_start: float | None = None) -> "LiveClock":
        return cls(
            simulated_start=start.astimezone(UTC).isoformat(),
            wall_start=time.time() if wall_start is None else wall_start,
            speed=speed,
        )

    def now(self) -> datetime:
        if self.simulated_start is None:
            return datetime.now(UTC)
        start = datetime.fromisoformat(self.simulated_start)
        if start.tzinfo is None:
            raise ValueError(f"LiveClock.simulated_start {self.simulated_start!r} has no timezone")
        return datetime.fromtimestamp(start.timestamp() + (time.time() - self.wall_start) * self.speed, UTC)

    def slot_wall_seconds(self) -> float:
        """Real seconds one 5-minute slot lasts on this clock (how often the ingestion sensor must tick)."""
        if self.simulated_start is None or self.speed <= 0:
            return float(SLOT_SECONDS)
        return SLOT_SECONDS / self.speed
