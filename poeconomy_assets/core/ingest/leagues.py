"""Which POE Watch leagues to follow: the spec's new-league rule, from names and dates only.

The current API has no hardcore/ssf/event flags, so the mode comes from the name. By default Standard,
Hardcore, Ruthless, SSF and event leagues are skipped; each can be switched back on.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from poeconomy_assets.core.ingest.currency_names import name_problem, printable
from poeconomy_assets.core.ingest.poe_watch_payloads import PayloadError, parse_timestamp, require_list


@dataclass(frozen=True)
class League:
    name: str
    start: datetime | None
    end: datetime | None  # None: no end set (Go zero time)

    def running(self, now: datetime) -> bool:
        return (self.start is None or self.start <= now) and (self.end is None or self.end > now)


@dataclass(frozen=True)
class LeagueRules:
    include_standard: bool = False
    include_hardcore: bool = False
    include_ruthless: bool = False
    include_ssf: bool = False
    include_events: bool = False
    extra: tuple[str, ...] = ()  # followed whatever their name says

    def mode(self, name: str) -> str | None:
        """The excluded mode a name belongs to, or None when it is a followed seasonal league."""
        low = name.casefold()
        if name in self.extra:
            return None
        checks = (
            ("standard", low == "standard" or "standard" in low.split(), self.include_standard),
            ("hardcore", "hardcore" in low or low == "hc", self.include_hardcore),
            ("ruthless", "ruthless" in low, self.include_ruthless),
            ("ssf", "ssf" in low or "solo self-found" in low, self.include_ssf),
            ("event", "event" in low, self.include_events),
        )
        for mode, hit, included in checks:
            if hit and not included:
                return mode
        return None


def parse_leagues(data: Any, problems: list[str] | None = None) -> tuple[list[League], int]:
    """The leagues of a ``/leagues`` response, and how many entries were unusable.

    A league name becomes a partition key, a folder name and a column of every stored row, so it must pass the
    same rule as any stored name (``name_problem``: at most 100 characters after NFC, no NUL/control/bidi
    character, no lone surrogate). An entry that fails is skipped, never followed; ``problems`` (when given)
    receives one line per skipped entry with its index and reason. The other leagues are kept."""
    leagues, bad = [], 0

    def skip(index: int, reason: str) -> None:
        nonlocal bad
        bad += 1
        if problems is not None:
            problems.append(f"/leagues entry {index}: {reason}")

    for index, entry in enumerate(require_list(data, "/leagues")):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name.strip():
            skip(index, f"missing_name (name = {printable(name, 40)})")
            continue
        problem = name_problem(name.strip())
        if problem:
            skip(index, f"{problem}: name {printable(name, 40)} ({len(name)} characters)")
            continue
        leagues.append(
            League(
                name.strip(), parse_timestamp(entry.get("start_date")), parse_timestamp(entry.get("end_date"))
            )
        )
    if not leagues and bad:
        raise PayloadError(
            f"/leagues held {bad} entries and none had a usable name"
            + (f" ({problems[-1]})" if problems else "")
        )
    return leagues, bad


def followed_leagues(leagues: list[League], now: datetime, rules: LeagueRules) -> list[League]:
    """Running leagues the rules follow, newest start first (the first one is the current league)."""
    kept = [lg for lg in leagues if lg.running(now) and rules.mode(lg.name) is None]
    return sorted(kept, key=lambda lg: (lg.start.timestamp() if lg.start else 0.0, lg.name), reverse=True)
