"""The live clock's modes: the wall clock (production), frozen, accelerated, and stepped through a file."""

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from poeconomy_assets.core.ingest.live_prices import SLOT_SECONDS
from poeconomy_assets.resources.live_clock import STEPPED_SLOT_WALL_SECONDS, LiveClock

AT = datetime(2025, 6, 20, 12, 10, 30, tzinfo=UTC)


def test_the_default_is_the_wall_clock() -> None:
    before = datetime.now(UTC)
    assert before <= LiveClock().now() <= datetime.now(UTC)
    assert LiveClock().slot_wall_seconds() == SLOT_SECONDS


def test_frozen_and_accelerated() -> None:
    assert LiveClock.frozen(AT).now() == AT
    fast = LiveClock.accelerated(AT, 20.0, wall_start=time.time() - 3)
    assert AT + timedelta(seconds=59) <= fast.now() <= AT + timedelta(seconds=80)
    assert fast.slot_wall_seconds() == SLOT_SECONDS / 20


def test_a_stepped_clock_reads_its_file_and_moves_only_when_stepped(tmp_path: Path) -> None:
    clock = LiveClock.stepped(tmp_path / "clock", AT)
    assert clock.now() == AT
    time.sleep(0.05)
    assert clock.now() == AT  # no wall time passes on it
    reader = LiveClock(file=clock.file)  # another process's copy of the same settings
    clock.step_to(AT + timedelta(minutes=5))
    assert reader.now() == AT + timedelta(minutes=5)
    assert not list(tmp_path.glob(".clock.*.tmp"))  # written atomically, nothing left beside it
    # the ingestion sensor's minimum interval is half of this: the daemon ticks it on every pass
    assert clock.slot_wall_seconds() == STEPPED_SLOT_WALL_SECONDS


def test_a_stepped_clock_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        LiveClock(file=str(tmp_path / "missing")).now()
    (tmp_path / "naive").write_text("2025-06-20T12:00:00")
    with pytest.raises(ValueError, match="no timezone"):
        LiveClock(file=str(tmp_path / "naive")).now()
    with pytest.raises(ValueError, match="no timezone"):
        LiveClock.stepped(tmp_path / "clock", datetime(2025, 6, 20, 12))
    with pytest.raises(ValueError, match="only a stepped"):
        LiveClock.frozen(AT).step_to(AT)


def test_every_process_given_the_settings_reads_the_same_stepped_time(tmp_path: Path) -> None:
    clock = LiveClock.stepped(tmp_path / "clock", AT)
    clock.step_to(AT + timedelta(minutes=35))
    code = (
        "import json, os; from poeconomy_assets.resources.live_clock import LiveClock; "
        "print(LiveClock(**json.loads(os.environ['POECONOMY_LIVE_CLOCK'])).now().isoformat())"
    )
    env = {**os.environ, "POECONOMY_LIVE_CLOCK": json.dumps({"file": clock.file})}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert datetime.fromisoformat(out.stdout.strip()) == AT + timedelta(minutes=35)


def test_its_settings_round_trip_as_json(tmp_path: Path) -> None:
    """The form POECONOMY_LIVE_CLOCK and the POE Watch client's breaker_clock take."""
    clocks = [
        LiveClock(),
        LiveClock.frozen(AT),
        LiveClock.accelerated(AT, 20.0),
        LiveClock(file=str(tmp_path)),
    ]
    for clock in clocks:
        assert LiveClock(**json.loads(clock.settings_json())) == clock
