"""Where live prices come from: the abstract ``PriceSource`` resource the live assets and sensors depend on.

A source answers the three questions the product asks, in POE Watch's shapes (parsed by
``core/ingest/poe_watch_payloads.py``): the leagues (``/leagues``), a league's items of one category with
their prices (``/get``) and one item's daily means (``/history``). Each answer is a
``core.ingest.sources.Fetched`` (raw body and decoded JSON); failures are ``SourceError`` (no retry can fix
it) or ``SourceUnavailable`` (gave up, or refuses calls for now).

Implementations:

- ``resources/poe_watch.py`` ``PoeWatchClient``: HTTP, with retries, a circuit breaker and limits against a
  hostile server (the ``poe_watch`` resource of every deployment);
- ``resources/recorded_source.py`` ``RecordedPriceSource``: recorded (or composed) responses in a folder, for
  offline runs and tests.

The resource key stays ``poe_watch`` whichever implementation is bound to it (run config and the UI use it).
"""

from abc import ABC, abstractmethod
from typing import Any

import dagster as dg

from poeconomy_assets.core.ingest import Fetched


class PriceSource(dg.ConfigurableResource, ABC):
    """Leagues, prices and price history of live leagues, in POE Watch's shapes."""

    @abstractmethod
    def get_leagues(self, log: Any = None) -> Fetched:
        """Every league the source knows (``/leagues``)."""

    @abstractmethod
    def get_items(self, league: str, category: str, log: Any = None) -> Fetched:
        """The items of one category of a league, with their prices (``/get``); JSON null or [] is no data."""

    @abstractmethod
    def get_history(self, league: str, item_id: int, log: Any = None) -> Fetched:
        """One item's daily means over the league (``/history``)."""

    @abstractmethod
    def location(self) -> str:
        """Where it reads from, for messages (a base URL, a folder)."""

    def breaker_status(self) -> str:
        """Its circuit breaker: ``closed``, ``open`` or ``half-open``; ``none`` for a source without one."""
        return "none"

    def refusing_calls(self) -> str | None:
        """Why a call now would be refused without being made (an open circuit breaker), else None."""
        return None
