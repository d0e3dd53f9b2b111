"""What every price source hands back, and how it fails (plain Python: the resources implement it).

A source answers the three questions the product asks (``/leagues``, ``/get``, ``/history`` in POE Watch's
shapes: see ``resources/price_source.py``) with a :class:`Fetched`: the raw body, for the payload archive, and
its decoded JSON. It raises :class:`SourceError` for an answer no retry can fix and :class:`SourceUnavailable`
when it gave up (every attempt failed, or its circuit breaker is open).
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
