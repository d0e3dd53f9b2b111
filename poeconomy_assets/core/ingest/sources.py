"""What every price source hands back, and how it fails (plain Python: the resources implement it).

A source answers the three questions the product asks (``/leagues``, ``/get``, ``/history`` in POE Watch's
shapes: see ``resources/price_source.py``) with a :class:`Fetched`: the raw body, for the payload archive, and
its decoded JSON. It raises :class:`SourceError` for an answer no retry can fix and :class:`SourceUnavailable`
when it gave up (every attempt failed, or its circuit breaker is open).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from poeconomy_assets.core.report import Markdown


class SourceError(RuntimeError):
    """The source answered in a way no retry can fix (e.g. HTTP 400/404, a body over a cap), or gave up."""


class SourceUnavailable(SourceError):
    """Every attempt failed, or the circuit breaker is open; ``breaker`` is its status afterwards."""

    def __init__(self, message: str, attempts: int, errors: list[str], breaker: str):
        super().__init__(message)
        self.attempts, self.errors, self.breaker = attempts, errors, breaker


@dataclass
class Fetched:
    """One successful response: the raw body (for the archive) and its decoded JSON."""

    url: str
    body: bytes
    data: Any
    fetched_at: datetime
    attempts: int
    seconds: float
    errors: list[str] = field(default_factory=list)  # what the retried attempts ran into
    breaker_reclosed: bool = False  # this success closed a breaker that was open or half-open


class IngestFailure(Exception):
    """An ingestion step cannot go on (the source gave up, or sent an unusable payload); nothing was stored.
    ``metadata`` (plain values) says what happened; the asset fails its step with both."""

    def __init__(self, description: str, metadata: Mapping[str, object]):
        super().__init__(description)
        self.description, self.metadata = description, dict(metadata)


def fetch_or_fail(call: Callable[[], Fetched], what: str) -> Fetched:
    """``call()``; a source that gave up becomes an IngestFailure with its attempts and breaker state."""
    try:
        return call()
    except SourceUnavailable as exc:
        raise IngestFailure(
            f"{what}: {exc}",
            {
                "circuit_breaker": exc.breaker,
                "attempts": exc.attempts,
                "errors": Markdown("\n".join(f"- {e}" for e in exc.errors) or "(none)"),
            },
        ) from exc
