"""Retries and the circuit breaker around one request to a remote source, for any source (tenacity).

A source's ``attempt`` makes one request: it returns a :class:`Fetched`, raises :class:`Transient` for a
failure worth another try (a timeout, HTTP 429/403/5xx, a body that is not JSON), and raises anything else
(a 404, a body over a cap) for a failure no retry can fix, which propagates untouched.
:func:`call_with_retries` then

- asks the circuit breaker before every attempt: while it is open nothing is sent (``SourceUnavailable``);
- counts every transient failure in the breaker; the one that opens it ends the call at once;
- waits between attempts with exponential backoff and "equal jitter" (half the backoff plus a random part of
  the other half: never zero, never in lockstep), and at least the ``Retry-After`` the server sent; a
  Retry-After over ``max_retry_after_seconds`` gives up instead of holding the caller;
- closes the breaker again on success.
"""

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tenacity

from poeconomy_assets.core.ingest.circuit_breaker import CircuitBreaker, CircuitOpenError
from poeconomy_assets.core.ingest.sources import Fetched, SourceUnavailable


class Transient(Exception):
    """A failed attempt worth another: what went wrong, and the Retry-After (seconds) the server sent."""

    def __init__(self, error: str, retry_after: float | None = None):
        super().__init__(error)
        self.error, self.retry_after = error, retry_after


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    backoff_base_seconds: float = 1.0  # attempt n waits about base * 2^(n-1), with jitter
    backoff_max_seconds: float = 60.0
    max_retry_after_seconds: float = 300.0  # a longer Retry-After gives up instead of blocking the pool

    def backoff(self, attempt: int) -> float:
        """Equal jitter after failed attempt ``attempt`` (1-based)."""
        backoff = min(self.backoff_max_seconds, self.backoff_base_seconds * 2 ** (attempt - 1))
        return backoff / 2 + random.uniform(0, backoff / 2)

    def too_long(self, failure: Transient) -> bool:
        return failure.retry_after is not None and failure.retry_after > self.max_retry_after_seconds


def _failure(state: tenacity.RetryCallState) -> Transient:
    exc = state.outcome.exception() if state.outcome else None
    assert isinstance(exc, Transient), exc
    return exc


class _wait_for_server(tenacity.wait.wait_base):
    """The policy's jittered backoff, or the server's Retry-After when that is longer."""

    def __init__(self, policy: RetryPolicy):
        self.policy = policy

    def __call__(self, state: tenacity.RetryCallState) -> float:
        backoff = self.policy.backoff(state.attempt_number)
        retry_after = _failure(state).retry_after
        return backoff if retry_after is None else max(retry_after, backoff)


class _stop_on_long_retry_after(tenacity.stop.stop_base):
    def __init__(self, policy: RetryPolicy):
        self.policy = policy

    def __call__(self, state: tenacity.RetryCallState) -> bool:
        return self.policy.too_long(_failure(state))


def call_with_retries(
    attempt: Callable[[], Fetched],
    *,
    request: str,
    policy: RetryPolicy,
    breaker: CircuitBreaker,
    log: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Fetched:
    """``attempt()`` until it succeeds, under ``policy`` and ``breaker``; the Fetched says how many attempts
    it took and what the failed ones ran into. Raises SourceUnavailable when it gives up (``request`` names
    what was asked in the message), and whatever ``attempt`` raised for a failure that is not Transient."""
    log = log or logging.getLogger(__name__)
    errors: list[str] = []  # one entry per failed attempt
    started = time.perf_counter()

    def guarded() -> Fetched:
        try:
            breaker.before_call()
        except CircuitOpenError as exc:
            log.error(str(exc))
            raise SourceUnavailable(f"{request}: {exc}", len(errors), errors, "open") from exc
        try:
            return attempt()
        except Transient as failure:
            errors.append(f"attempt {len(errors) + 1}: {failure.error}")
            if breaker.record_failure(failure.error):
                message = (
                    f"circuit breaker for {breaker.name} opened after {breaker.state().consecutive_failures} "
                    f"consecutive failures (last: {failure.error}); calls stop for {breaker.cooldown:g} s"
                )
                log.error(message)
                raise SourceUnavailable(f"{request}: {message}", len(errors), errors, "open") from failure
            raise

    def warn(state: tenacity.RetryCallState) -> None:
        delay = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            f"{request} attempt {state.attempt_number}/{policy.max_attempts} failed: "
            f"{_failure(state).error}; retrying in {delay:.2f} s"
        )

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(Transient),
        stop=tenacity.stop_after_attempt(policy.max_attempts) | _stop_on_long_retry_after(policy),
        wait=_wait_for_server(policy),
        before_sleep=warn,
        sleep=sleep,
        reraise=True,
    )
    try:
        fetched = retrying(guarded)
    except Transient as failure:
        attempts = len(errors)
        if policy.too_long(failure) and attempts < policy.max_attempts:
            errors.append(f"Retry-After {failure.retry_after:g} s exceeds max_retry_after_seconds")
        raise SourceUnavailable(
            f"{request} failed after {attempts} attempt(s): " + "; ".join(errors),
            attempts,
            errors,
            breaker.status(),
        ) from failure
    fetched.attempts, fetched.errors = len(errors) + 1, errors
    fetched.seconds = round(time.perf_counter() - started, 3)
    fetched.breaker_reclosed = breaker.record_success()
    if fetched.breaker_reclosed:
        log.info(f"circuit breaker for {breaker.name} closed again after a successful call")
    return fetched
