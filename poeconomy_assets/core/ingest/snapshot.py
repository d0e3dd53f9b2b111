"""One snapshot of a live league at one 5-minute slot: the work of ``poe_watch_snapshots``, in plain Python.

``take_snapshot`` fetches ``/get`` for each category from a price source, validates the payloads (an unusable one
stops everything before anything is archived), decides what to store and builds the run's metadata:

- a snapshot is stored under the slot of the time it was fetched (a run that waited in a queue never writes under
  an earlier slot's time); the slot it was meant for is kept alongside;
- slots handed over as missed are refilled when the payload fetched now is provably the one that was in effect
  then (``slot_accounting.refill``), else recorded as lost with their reason;
- a payload identical to the last stored one of its category is a recorded no-op; the others are parsed
  (``poe_watch_payloads.parse_items``) and archived in the same transaction as their rows, so a failed write
  leaves them unprocessed for the retry; rows are keyed by (league, currency, slot), so a re-run stores nothing
  twice; a currency listed under two categories keeps the row with more listings;
- the metadata is also the operations view: slots expected/stored/refilled/lost over the last 24 hours, the
  circuit breaker, and the queue delay of the last runs.

What it needs from outside comes in as plain parameters: the source and the store (any objects with the methods
of :class:`ItemSource` and :class:`SnapshotStore`), a clock, and :class:`RunRecords`, what the orchestrator knows
of the league's runs (Dagster's instance in production: ``defs/live/slot_ledger.py``).
"""

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import polars as pl

from poeconomy_assets.core.ingest.currency_names import CurrencyResolver
from poeconomy_assets.core.ingest.live_prices import parse_slot, slot_key, slot_start
from poeconomy_assets.core.ingest.poe_watch_payloads import (
    CATEGORIES,
    PayloadError,
    parse_items,
    require_list,
)
from poeconomy_assets.core.ingest.slot_accounting import SlotReport, account, refill
from poeconomy_assets.core.ingest.snapshot_rows import RawPayload, payload_hash
from poeconomy_assets.core.ingest.sources import Fetched, IngestFailure, fetch_or_fail
from poeconomy_assets.core.report import Markdown, frame_to_markdown
from poeconomy_assets.core.schemas import SNAPSHOT_COLUMNS


class ItemSource(Protocol):
    """What a snapshot asks of a price source (``resources.price_source.PriceSource`` has it)."""

    def get_items(self, league: str, category: str, log: Any = None) -> Fetched: ...

    def breaker_status(self) -> str: ...


class SnapshotStore(Protocol):
    """What a snapshot asks of the price store (``resources.price_store.PriceStore`` has it)."""

    def read_snapshots(
        self, league: str, start: datetime | None = None, end: datetime | None = None
    ) -> pl.DataFrame: ...

    def last_payload_hash(self, league: str, category: str) -> str | None: ...

    def store_payloads_and_snapshots(self, payloads: list[RawPayload], rows: pl.DataFrame) -> int: ...


class RunRecords(Protocol):
    """What the orchestrator knows of the league's ingestion runs, and the currencies it tracks."""

    def slot_reports(self) -> tuple[list[SlotReport], str | None]:
        """The slot reports of the league's latest snapshots, and the slot of its first snapshot ever."""
        ...

    def known_currencies(self) -> list[str]: ...

    def add_currencies(self, names: list[str]) -> list[str]:
        """Start tracking ``names``; returns those that were new."""
        ...

    def queue_delay(self) -> float | None:
        """Seconds this run waited in the run queue (None when it went through none)."""
        ...

    def recent_queue_delays(self) -> list[dict]:
        """One row per recent ingestion run: its league, slot, status and queue delay."""
        ...


@dataclass(frozen=True)
class SnapshotRequest:
    league: str
    slot: str | None = (
        None  # the slot the run is meant for, e.g. "2025-06-14T10:05:00Z" (None: the current one)
    )
    missed_slots: dict[str, str] = field(default_factory=dict)  # earlier slot -> why it was missed
    categories: Sequence[str] = CATEGORIES


@dataclass
class SnapshotResult:
    summary: str  # one line for the run's log
    metadata: dict[str, object]  # plain values; Markdown for tables and lists, dicts for JSON, None for null


@dataclass
class _Parsed:
    """The categories' payloads, parsed: what to store and what to say about it."""

    rows: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=SNAPSHOT_COLUMNS))
    payloads: list[RawPayload] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    no_data: list[str] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    problems: list[dict] = field(default_factory=list)
    received: int = 0

    @property
    def no_op(self) -> bool:
        """Every payload was the one stored last."""
        return len(self.unchanged) == len(self.hashes)

    def outcome(self, inserted: int) -> str:
        if self.no_op:
            return "no-op, payload unchanged since the last fetch"
        return f"{inserted} new rows of {self.rows.height} accepted ({self.received} received)"

    def metadata(self, inserted: int) -> dict[str, object]:
        """What was received, accepted and stored, the counts per reason and the problems."""
        problems = frame_to_markdown(pl.DataFrame(self.problems), max_rows=40) if self.problems else "none"
        return {
            "no_op": self.no_op,
            "unchanged_categories": ", ".join(self.unchanged) or "none",
            "no_data_categories": ", ".join(self.no_data) or "none",
            "rows_received": self.received,
            "rows_accepted": self.rows.height,
            "rows_inserted": inserted,
            "rows_already_stored": self.rows.height - inserted,
            **{f"rows_{reason}": n for reason, n in self.counts.items()},
            "problems": Markdown(problems),
            "payload_sha256": ", ".join(f"{c}: {h}" for c, h in self.hashes.items()),
        }


def _bullets(lines: list[str]) -> Markdown:
    return Markdown("\n".join(f"- {line}" for line in lines) or "none")


def take_snapshot(
    request: SnapshotRequest,
    *,
    source: ItemSource,
    store: SnapshotStore,
    clock: Callable[[], datetime],
    records: RunRecords,
    log: Any = None,
) -> SnapshotResult:
    """Fetch, validate and store one snapshot of ``request.league``; raises IngestFailure (nothing stored) when
    the source gives up or sends an unusable payload."""
    started = time.perf_counter()
    league = request.league
    meant = parse_slot(request.slot) if request.slot else slot_start(clock())
    fetched = {
        c: fetch_or_fail(lambda c=c: source.get_items(league, c, log=log), f"/get {league} {c}")
        for c in request.categories
    }
    fetched_at = clock()
    slot = slot_start(fetched_at)  # stored under the slot it was fetched in, whatever slot it was meant for
    reports, first = records.slot_reports()
    missed = _missed_slots(request.missed_slots, {r.stored for r in reports}, meant, fetched_at)
    _require_lists(fetched, league)  # payload-level problems fail before anything is archived
    refilled, lost = _refill(store, league, slot, missed, fetched)
    parsed = _parse(fetched, league, slot, store, CurrencyResolver(records.known_currencies()))
    # One transaction: the payloads count as processed only if their rows are stored with them.
    inserted = store.store_payloads_and_snapshots(parsed.payloads, parsed.rows)
    added = records.add_currencies(sorted(parsed.rows["currency"].unique())) if parsed.rows.height else []
    summary = f"{league} @ {slot_key(slot)}: {parsed.outcome(inserted)}" + (
        f"; {len(refilled)} missed slots refilled, {len(lost)} lost" if missed else ""
    )
    report = SlotReport(slot_key(slot), refilled, lost)
    metadata = {
        "league": league,
        "slot": slot_key(slot),
        "meant_for_slot": slot_key(meant),
        "fetched_at": fetched_at.isoformat(timespec="seconds"),
        "refilled_slots": refilled,
        "lost_slots": lost,
        **_operations_view(reports, first, fetched_at, report, source.breaker_status(), records),
        **parsed.metadata(inserted),
        "http_attempts": sum(f.attempts for f in fetched.values()),
        "http_retried_errors": _bullets([e for f in fetched.values() for e in f.errors]),
        "new_currency_partitions": ", ".join(added) or "none",
        "fetch_seconds": round(sum(f.seconds for f in fetched.values()), 3),
        "seconds": round(time.perf_counter() - started, 3),
    }
    return SnapshotResult(summary, metadata)


def _require_lists(fetched: dict[str, Fetched], league: str) -> None:
    """IngestFailure for a payload that is not a list (an object, a string); no data is ``null`` or []."""
    for category, response in fetched.items():
        try:
            require_list(response.data, f"/get?league={league}&category={category}")
        except PayloadError as exc:
            raise IngestFailure(f"POE Watch sent an unusable payload: {exc}", {"url": response.url}) from exc


def _missed_slots(
    handed: dict[str, str], already: set[str], meant: datetime, fetched_at: datetime
) -> dict[str, str]:
    """The missed slots this run is to refill: those handed over that no run has stored since (e.g. one skipped
    while a late run was storing it), and the slot it was meant for when it fetched in a later one."""
    missed = {s: why for s, why in handed.items() if s not in already}
    if slot_start(fetched_at) != meant and slot_key(meant) not in already:
        missed[slot_key(meant)] = (
            f"its run fetched at {fetched_at:%H:%M:%S}, "
            f"{(fetched_at - meant).total_seconds():.0f} s after the slot began"
        )
    return missed


def _refill(
    store: SnapshotStore, league: str, slot: datetime, missed: dict[str, str], fetched: dict[str, Fetched]
) -> tuple[dict[str, str], dict[str, str]]:
    """(refilled, lost) missed slots, against the league's snapshots of the day before the oldest one."""
    if not missed:
        return {}, {}
    oldest = min([slot, *(parse_slot(s) for s in missed)])
    earlier = store.read_snapshots(league, start=oldest - timedelta(days=1), end=slot)
    return refill(missed, {c: payload_hash(f.body) for c, f in fetched.items()}, earlier)


def _parse(
    fetched: dict[str, Fetched],
    league: str,
    slot: datetime,
    store: SnapshotStore,
    resolver: CurrencyResolver,
) -> _Parsed:
    """Each changed payload parsed into rows (the last day's prices guard against jumps), archived with them."""
    out, frames = _Parsed(), []
    reference = last_prices(store, league, slot)
    for category, response in fetched.items():
        digest = payload_hash(response.body)
        out.hashes[category] = digest[:12]
        if store.last_payload_hash(league, category) == digest:
            out.unchanged.append(category)
            continue
        out.payloads.append(RawPayload(league, category, response.fetched_at, response.body))
        parsed = parse_items(
            response.data,
            league=league,
            category=category,
            snapshot_at=slot,
            payload_hash=digest,
            resolver=resolver,
            last_prices=reference,
        )
        out.received += parsed.received
        if parsed.received == 0:
            out.no_data.append(category)
        out.counts.update(parsed.count_table())
        out.problems += [{"category": category, **p} for p in parsed.problems]
        frames.append(parsed.rows)
    rows = pl.concat(frames) if frames else pl.DataFrame()
    if rows.height:  # one currency listed under both categories: keep the row with more listings
        before = rows.height
        out.rows = (
            rows.sort("daily", descending=True, nulls_last=True)
            .unique(["currency"], keep="first")
            .sort("currency")
        )
        out.counts["duplicate_id"] += before - out.rows.height
    return out


def last_prices(store: SnapshotStore, league: str, before: datetime) -> dict[str, float]:
    """Each currency's latest stored mean in the day before ``before`` (the jump guard's reference)."""
    recent = store.read_snapshots(league, start=before - timedelta(days=1), end=before)
    if recent.is_empty():
        return {}
    latest = recent.sort("snapshot_at").group_by("currency").last()
    return dict(zip(latest["currency"], latest["mean_chaos"]))


def _operations_view(
    reports: list[SlotReport],
    first: str | None,
    now: datetime,
    report: SlotReport,
    breaker: str,
    records: RunRecords,
) -> dict[str, object]:
    """Slots expected vs stored in the last 24 hours, lost slots with reasons, the breaker, queue delays."""
    first_seen = min(
        parse_slot(s) for s in [report.stored, *([first] if first else []), *report.refilled, *report.lost]
    )
    day = account([*reports, report], now, first_seen)
    lost = pl.DataFrame(
        {"slot": list(day.lost), "reason": list(day.lost.values())},
        schema={"slot": pl.Utf8, "reason": pl.Utf8},
    )
    delay = records.queue_delay()
    return {
        "slots_24h": day.summary(),
        "slots_expected_24h": len(day.expected),
        "slots_stored_24h": len(day.stored),
        "slots_refilled_24h": len(day.refilled),
        "slots_lost_24h": len(day.lost),
        "lost_slots_24h": Markdown(frame_to_markdown(lost, max_rows=30) if lost.height else "none"),
        "circuit_breaker": breaker,
        "queue_delay_seconds": round(delay, 2) if delay is not None else None,
        "queue_delays": Markdown(frame_to_markdown(pl.DataFrame(records.recent_queue_delays()))),
    }
