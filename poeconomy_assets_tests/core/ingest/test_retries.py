"""The retry loop (tenacity) and its circuit breaker, driven by scripted attempts; sleeps recorded, not slept.

The HTTP client's own tests (resources/test_poe_watch*.py) run the same loop against a real server."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from poeconomy_assets.core.ingest.circuit_breaker import CircuitBreaker
from poeconomy_assets.core.ingest.retries import RetryPolicy, Transient, call_with_retries
from poeconomy_assets.core.ingest.sources import Fetched, SourceError, SourceUnavailable

POLICY = RetryPolicy(
    max_attempts=4, backoff_base_seconds=1.0, backoff_max_seconds=3.0, max_retry_after_seconds=30
)


def _ok() -> Fetched:
    return Fetched(url="u", body=b"[]", data=[], fetched_at=datetime.now(UTC), attempts=0, seconds=0.0)


class Script:
    """Answers attempts from a list: an exception is raised, anything else means success."""

    def __init__(self, *outcomes: object):
        self.outcomes, self.calls = list(outcomes), 0

    def __call__(self) -> Fetched:
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if isinstance(outcome, Exception):
            raise outcome
        return _ok()


def _call(script: Script, breaker: CircuitBreaker, sleeps: list[float]) -> Fetched:
    return call_with_retries(script, request="GET test", policy=POLICY, breaker=breaker, sleep=sleeps.append)


def _breaker(tmp_path: Path, threshold: int = 10) -> CircuitBreaker:
    return CircuitBreaker("test", threshold, 60, str(tmp_path / "breaker.json"))


def test_backoff_is_exponential_with_equal_jitter_and_capped(tmp_path: Path) -> None:
    sleeps: list[float] = []
    script = Script(Transient("HTTP 500"), Transient("timeout"), Transient("HTTP 503"))
    fetched = _call(script, _breaker(tmp_path), sleeps)
    assert fetched.attempts == 4 and script.calls == 4
    assert fetched.errors == ["attempt 1: HTTP 500", "attempt 2: timeout", "attempt 3: HTTP 503"]
    for delay, full in zip(sleeps, [1.0, 2.0, 3.0], strict=True):  # base * 2^(n-1), capped at 3
        assert full / 2 <= delay <= full


def test_retry_after_is_a_floor_and_too_long_a_one_gives_up(tmp_path: Path) -> None:
    sleeps: list[float] = []
    _call(Script(Transient("HTTP 429", retry_after=7.5)), _breaker(tmp_path), sleeps)
    assert sleeps == [7.5]
    script = Script(Transient("HTTP 429", retry_after=3600))
    with pytest.raises(
        SourceUnavailable, match="failed after 1 attempt.*Retry-After 3600 s exceeds"
    ) as caught:
        _call(script, _breaker(tmp_path), sleeps)
    assert script.calls == 1 and caught.value.attempts == 1 and sleeps == [7.5]


def test_a_failure_no_retry_can_fix_is_raised_at_once_and_not_counted(tmp_path: Path) -> None:
    breaker = _breaker(tmp_path)
    script = Script(SourceError("body over the cap"))
    with pytest.raises(SourceError, match="body over the cap") as caught:
        _call(script, breaker, [])
    assert not isinstance(caught.value, SourceUnavailable)
    assert script.calls == 1 and breaker.state().consecutive_failures == 0


def test_every_attempt_failing_says_so_and_counts_in_the_breaker(tmp_path: Path) -> None:
    breaker = _breaker(tmp_path)
    with pytest.raises(SourceUnavailable, match=r"GET test failed after 4 attempt\(s\)") as caught:
        _call(Script(*[Transient("HTTP 500")] * 4), breaker, [])
    assert caught.value.breaker == "closed" and breaker.state().consecutive_failures == 4


def test_the_failure_that_opens_the_breaker_ends_the_call_and_an_open_breaker_calls_nothing(
    tmp_path: Path,
) -> None:
    breaker = _breaker(tmp_path, threshold=2)
    script = Script(*[Transient("HTTP 503")] * 4)
    with pytest.raises(SourceUnavailable, match="opened after 2 consecutive failures") as opened:
        _call(script, breaker, [])
    assert script.calls == 2 and opened.value.breaker == "open"
    with pytest.raises(SourceUnavailable, match="is open"):
        _call(script, breaker, [])
    assert script.calls == 2


def test_success_after_failures_closes_a_half_open_breaker(tmp_path: Path) -> None:
    now = [1000.0]
    breaker = CircuitBreaker("t", 1, 60, str(tmp_path / "b.json"), clock=lambda: now[0])
    breaker.record_failure("HTTP 500")
    now[0] += 61  # half-open: one trial call
    fetched = _call(Script(), breaker, [])
    assert fetched.breaker_reclosed and breaker.status() == "closed"
