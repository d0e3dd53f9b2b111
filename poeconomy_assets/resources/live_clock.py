"""What time it is for live ingestion: the wall clock, or a simulated one that the demo and tests control.

The sensors and the ingestion asset read the time through this resource, never through a Dagster internal, so a
test can freeze it (``LiveClock.frozen(at)``), the live demo or ``serve-api --speed`` can run it faster than real
time in step with the local POE Watch server (``LiveClock.accelerated(start, speed)``), and a test can *step* it
(``LiveClock.stepped(path, at)``, then ``step_to``): the simulated time is whatever a small file holds, moved only
when its driver has seen what it waits for (a slot's sensor tick, its run finished), so nothing races the wall
clock on a loaded machine. Every process that shares the settings (the daemon, each run worker) reads the same
simulated time: an accelerated clock is anchored to a wall time rather than to when the process started, and a
stepped one is one file, replaced atomically.
"""

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from poeconomy_assets.core.files import atomic_write_text
from poeconomy_assets.core.ingest import SLOT_SECONDS

# A stepped clock's slot lasts as long as its driver takes to step it: seconds, not minutes. ``slot_wall_seconds``
# answers this for it, so the ingestion sensor's minimum interval (half a slot) is 2 s and the daemon, which looks
# at its sensors every 5 s, ticks it on every pass: a step is seen within about 5 s.
STEPPED_SLOT_WALL_SECONDS = 4.0


def _aware(text: str, what: str) -> datetime:
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise ValueError(f"{what} {text!r} has no timezone")
    return at.astimezone(UTC)


class LiveClock(dg.ConfigurableResource):
    """``simulated_start`` is the simulated time at wall time ``wall_start`` (epoch seconds); it then runs at
    ``speed`` × real time (0: frozen). With ``file``, the simulated time is the ISO 8601 time written in that
    file (stepped: it moves only when rewritten). Without either it is the wall clock (production)."""

    simulated_start: str | None = None  # ISO 8601 with an offset, e.g. "2025-06-20T12:00:00Z"
    wall_start: float = 0.0
    speed: float = 1.0
    file: str | None = (
        None  # a stepped clock's file, e.g. "/tmp/run/clock" holding "2025-06-20T12:10:30+00:00"
    )

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

    @classmethod
    def stepped(cls, path: Path | str, at: datetime) -> "LiveClock":
        """A clock read from ``path``, set to ``at`` (pass ``{"file": path}`` to other processes)."""
        clock = cls(file=str(path))
        clock.step_to(at)
        return clock

    def settings_json(self) -> str:
        """Its settings as JSON, the form of ``POECONOMY_LIVE_CLOCK`` (``LiveClock(**json.loads(...))`` reads them)."""
        fields = {
            "simulated_start": self.simulated_start,
            "wall_start": self.wall_start,
            "speed": self.speed,
            "file": self.file,
        }
        return json.dumps({k: v for k, v in fields.items() if v is not None})

    def step_to(self, at: datetime) -> None:
        """Move a stepped clock to ``at``, for every process reading its file (one atomic replace)."""
        if self.file is None:
            raise ValueError("only a stepped LiveClock (one with a file) can be stepped")
        if at.tzinfo is None:
            raise ValueError(f"LiveClock.step_to({at!r}): the time has no timezone")
        atomic_write_text(Path(self.file), at.astimezone(UTC).isoformat())

    def now(self) -> datetime:
        if self.file is not None:
            try:
                text = Path(self.file).read_text(encoding="utf-8").strip()
            except FileNotFoundError as exc:
                raise FileNotFoundError(f"stepped LiveClock: its file {self.file} does not exist") from exc
            return _aware(text, f"stepped LiveClock file {self.file}:")
        if self.simulated_start is None:
            return datetime.now(UTC)
        start = _aware(self.simulated_start, "LiveClock.simulated_start")
        return datetime.fromtimestamp(start.timestamp() + (time.time() - self.wall_start) * self.speed, UTC)

    def slot_wall_seconds(self) -> float:
        """Real seconds one 5-minute slot lasts on this clock (how often the ingestion sensor must tick); for a
        stepped clock, STEPPED_SLOT_WALL_SECONDS."""
        if self.file is not None:
            return STEPPED_SLOT_WALL_SECONDS
        if self.simulated_start is None or self.speed <= 0:
            return float(SLOT_SECONDS)
        return SLOT_SECONDS / self.speed
