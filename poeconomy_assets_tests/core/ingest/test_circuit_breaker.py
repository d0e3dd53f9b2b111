"""The circuit breaker's states, with a controllable clock, in memory and shared through its state file."""

from pathlib import Path

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
