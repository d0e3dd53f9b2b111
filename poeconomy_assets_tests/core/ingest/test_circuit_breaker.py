"""The circuit breaker's states, with a controllable clock, in memory and shared through its state file."""

import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from poeconomy_assets.core.ingest.circuit_breaker import CircuitBreaker, CircuitOpenError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("shared", [False, True])
def test_opens_after_threshold_half_opens_after_cooldown_and_closes_on_success(
    tmp_path: Path, shared: bool
) -> None:
    clock = Clock()
    path = str(tmp_path / "breaker.json") if shared else None
    breaker = CircuitBreaker(f"api-{shared}", threshold=3, cooldown_seconds=60, state_path=path, clock=clock)
    assert [breaker.record_failure("HTTP 500") for _ in range(3)] == [False, False, True]
    with pytest.raises(CircuitOpenError, match="open after 3 consecutive failures \\(last: HTTP 500\\)"):
        breaker.before_call()
    if shared:  # another process reading the same file sees it open
        assert CircuitBreaker(f"api-{shared}", 3, 60, path, clock).status() == "open"
    clock.now += 61
    assert breaker.before_call() == "half-open"
    assert breaker.record_failure("timeout") is True  # the trial call failed: open again, for a new cool-down
    assert breaker.status() == "open"
    clock.now += 61
    assert breaker.record_success() is True and breaker.status() == "closed"
    assert breaker.state().consecutive_failures == 0


def test_a_success_resets_the_count() -> None:
    breaker = CircuitBreaker("reset", threshold=2, cooldown_seconds=60, clock=Clock())
    breaker.record_failure("x")
    assert breaker.record_success() is False
    assert breaker.record_failure("y") is False and breaker.status() == "closed"


def _record_failures(path: str, name: str, count: int, start: Any) -> None:
    """A run process's share of the failures (importable, so 'spawn' finds it); waits for the common start."""
    breaker = CircuitBreaker(name, threshold=10**9, cooldown_seconds=600, state_path=path)
    assert start.wait(timeout=120)
    for i in range(count):
        breaker.record_failure(f"HTTP 503 #{i}")


def test_processes_sharing_the_state_file_lose_no_failure(tmp_path: Path) -> None:
    """Several processes count failures into one state file at once (read-modify-write under the file lock):
    the count is the sum of them all, and a second breaker in the same file keeps its own state."""
    path = str(tmp_path / "breaker.json")
    other = CircuitBreaker("other", threshold=3, cooldown_seconds=60, state_path=path)
    other.record_failure("kept")
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [context.Process(target=_record_failures, args=(path, "shared", 150, start)) for _ in range(4)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    shared = CircuitBreaker("shared", threshold=10**9, cooldown_seconds=600, state_path=path)
    assert shared.state().consecutive_failures == 4 * 150
    assert other.state().consecutive_failures == 1 and other.state().last_error == "kept"
