"""Live prices from POE Watch: one snapshot of a league every 5 minutes, stored once per slot.

A snapshot is stored under the slot of the time it was fetched (a run that waited in a queue never writes under
an earlier slot's time); the slot it was meant for is kept alongside in its metadata. Slots the sensor hands over
as missed are refilled when POE Watch's payload is provably the one that was in effect then, else recorded as lost
with their reason. The metadata is also the operations view: slots expected/stored/refilled/lost over the last
24 hours, the circuit breaker, and the queue delay of the last runs.
"""

import time
from collections.abc import Callable
from datetime import datetime, timedelta

import dagster as dg
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
from poeconomy_assets.core.ingest.sources import Fetched, SourceUnavailable
from poeconomy_assets.core.keys import name_from_key
from poeconomy_assets.core.report.markdown import frame_to_markdown
from poeconomy_assets.defs.live.slot_ledger import as_json, queue_delays, queue_window, slot_reports
from poeconomy_assets.defs.partitions import known_currencies, league_partitions, register_partitions
from poeconomy_assets.resources.live_clock import LiveClock
from poeconomy_assets.resources.price_source import PriceSource
from poeconomy_assets.resources.price_store import SNAPSHOT_COLUMNS, PriceStore, RawPayload, payload_hash

FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(minutes=15), warn_window=timedelta(minutes=10)
)


class SnapshotConfig(dg.Config):
    """The 5-minute slot this run is meant for (the sensor sets it; default: the current slot), earlier slots it
    is to refill (slot -> why it was missed) and which categories."""

    slot: str | None = None  # e.g. "2025-06-14T10:05:00Z"
    missed_slots: dict[str, str] = {}  # noqa: RUF012 (pydantic copies defaults per instance)
    categories: list[str] = list(CATEGORIES)  # noqa: RUF012 (pydantic copies defaults per instance)


def fetch_or_fail(fetch: Callable[[], Fetched], what: str) -> Fetched:
    """Call the price source; an unreachable one fails the step with the attempts and breaker state in metadata."""
    try:
        return fetch()
    except SourceUnavailable as exc:
        raise dg.Failure(
            description=f"{what}: {exc}",
            metadata={
                "circuit_breaker": exc.breaker,
                "attempts": exc.attempts,
                "errors": dg.MetadataValue.md("\n".join(f"- {e}" for e in exc.errors) or "(none)"),
            },
        ) from exc


def last_prices(price_store: PriceStore, league: str, before: datetime) -> dict[str, float]:
    """Each currency's latest stored mean in the day before ``before`` (the jump guard's reference)."""
    recent = price_store.read_snapshots(league, start=before - timedelta(days=1), end=before)
    if recent.is_empty():
        return {}
    latest = recent.sort("snapshot_at").group_by("currency").last()
    return dict(zip(latest["currency"], latest["mean_chaos"]))


def operations_view(
    context: dg.AssetExecutionContext,
    reports: list[SlotReport],
    first: str | None,
    now: datetime,
    report: SlotReport,
    breaker: str,
) -> dict[str, object]:
    """Slots expected vs stored in the last 24 hours, lost slots with reasons, the breaker, queue delays."""
    first_seen = min(
        parse_slot(s) for s in [report.stored, *([first] if first else []), *report.refilled, *report.lost]
    )
    day = account([*reports, report], now, first_seen)
    window = queue_window(context.instance, context.run_id)
    delay = window[1] - window[0] if window else None
    lost = pl.DataFrame(
        {"slot": list(day.lost), "reason": list(day.lost.values())},
        schema={"slot": pl.Utf8, "reason": pl.Utf8},
    )
    return {
        "slots_24h": day.summary(),
        "slots_expected_24h": len(day.expected),
        "slots_stored_24h": len(day.stored),
        "slots_refilled_24h": len(day.refilled),
        "slots_lost_24h": len(day.lost),
        "lost_slots_24h": dg.MetadataValue.md(
            frame_to_markdown(lost, max_rows=30) if lost.height else "none"
        ),
        "circuit_breaker": breaker,
        "queue_delay_seconds": round(delay, 2) if delay is not None else dg.MetadataValue.null(),
        "queue_delays": dg.MetadataValue.md(frame_to_markdown(pl.DataFrame(queue_delays(context.instance)))),
    }


@dg.asset(
    group_name="ingestion",
    partitions_def=league_partitions,
    pool="poe_watch_api",
    freshness_policy=FRESHNESS,
    kinds={"polars"},
)
def poe_watch_snapshots(
    context: dg.AssetExecutionContext,
    config: SnapshotConfig,
    poe_watch: PriceSource,
    price_store: PriceStore,
    live_clock: LiveClock,
) -> dg.MaterializeResult:
    """Currency and fragment prices of one live league at one 5-minute slot, from POE Watch ``/get``.

    Raw payloads are archived (gzip + sha256) in the same transaction as the rows parsed from them, so a failed
    write leaves the payload unprocessed for the retry; rows are keyed by (league, currency, slot of the fetch
    time), so a re-run stores nothing twice, and a payload identical to the last stored one is a recorded no-op.
    """
    league = name_from_key(context.partition_key)
    meant = parse_slot(config.slot) if config.slot else slot_start(live_clock.now())
    started = time.perf_counter()
    fetched = {
        c: fetch_or_fail(lambda c=c: poe_watch.get_items(league, c, log=context.log), f"/get {league} {c}")
        for c in config.categories
    }
    fetched_at = live_clock.now()
    slot = slot_start(fetched_at)  # stored under the slot it was fetched in, whatever slot it was meant for
    reports, first = slot_reports(context.instance, context.partition_key)
    already = {r.stored for r in reports}  # e.g. skipped while a late run was storing it
    missed = {s: why for s, why in config.missed_slots.items() if s not in already}
    if slot != meant and slot_key(meant) not in already:
        missed[slot_key(meant)] = (
            f"its run fetched at {fetched_at:%H:%M:%S}, "
            f"{(fetched_at - meant).total_seconds():.0f} s after the slot began"
        )
    for category, response in fetched.items():  # payload-level problems fail before anything is archived
        try:
            require_list(response.data, f"/get?league={league}&category={category}")
        except PayloadError as exc:
            raise dg.Failure(
                description=f"POE Watch sent an unusable payload: {exc}", metadata={"url": response.url}
            ) from exc
    oldest = min([slot, *(parse_slot(s) for s in missed)])
    earlier = (
        price_store.read_snapshots(league, start=oldest - timedelta(days=1), end=slot) if missed else None
    )
    refilled, lost = (
        refill(missed, {c: payload_hash(f.body) for c, f in fetched.items()}, earlier)
        if earlier is not None
        else ({}, {})
    )
    resolver = CurrencyResolver(known_currencies(context.instance))
    reference = last_prices(price_store, league, slot)
    frames, unchanged, no_data, hashes, problems, payloads = [], [], [], {}, [], []
    counts: dict[str, int] = {}
    received = 0
    for category, response in fetched.items():
        digest = payload_hash(response.body)
        hashes[category] = digest[:12]
        if price_store.last_payload_hash(league, category) == digest:
            unchanged.append(category)
            continue
        payloads.append(RawPayload(league, category, response.fetched_at, response.body))
        parsed = parse_items(
            response.data,
            league=league,
            category=category,
            snapshot_at=slot,
            payload_hash=digest,
            resolver=resolver,
            last_prices=reference,
        )
        received += parsed.received
        if parsed.received == 0:
            no_data.append(category)
        for reason, n in parsed.count_table().items():
            counts[reason] = counts.get(reason, 0) + n
        problems += [{"category": category, **p} for p in parsed.problems]
        frames.append(parsed.rows)
    rows = pl.concat(frames) if frames else pl.DataFrame()
    if rows.height:  # one currency listed under both categories: keep the row with more listings
        before = rows.height
        rows = (
            rows.sort("daily", descending=True, nulls_last=True)
            .unique(["currency"], keep="first")
            .sort("currency")
        )
        counts["duplicate_id"] = counts.get("duplicate_id", 0) + before - rows.height
    # One transaction: the payloads count as processed only if their rows are stored with them.
    inserted = price_store.store_payloads_and_snapshots(
        payloads, rows if rows.height else pl.DataFrame(schema=SNAPSHOT_COLUMNS)
    )
    added = (
        register_partitions(context.instance, [], sorted(rows["currency"].unique())) if rows.height else {}
    )
    no_op = len(unchanged) == len(fetched)
    summary = (
        f"{league} @ {slot_key(slot)}: "
        + (
            "no-op, payload unchanged since the last fetch"
            if no_op
            else f"{inserted} new rows of {rows.height} accepted ({received} received)"
        )
        + (f"; {len(refilled)} missed slots refilled, {len(lost)} lost" if missed else "")
    )
    context.log.info(summary)
    report = SlotReport(slot_key(slot), refilled, lost)
    return dg.MaterializeResult(
        metadata={
            "league": league,
            "slot": slot_key(slot),
            "meant_for_slot": slot_key(meant),
            "fetched_at": fetched_at.isoformat(timespec="seconds"),
            "refilled_slots": as_json(refilled),
            "lost_slots": as_json(lost),
            **operations_view(context, reports, first, fetched_at, report, poe_watch.breaker_status()),
            "no_op": no_op,
            "unchanged_categories": ", ".join(unchanged) or "none",
            "no_data_categories": ", ".join(no_data) or "none",
            "rows_received": received,
            "rows_accepted": rows.height,
            "rows_inserted": inserted,
            "rows_already_stored": rows.height - inserted,
            **{f"rows_{reason}": n for reason, n in counts.items()},
            "problems": dg.MetadataValue.md(
                frame_to_markdown(pl.DataFrame(problems), max_rows=40) if problems else "none"
            ),
            "payload_sha256": ", ".join(f"{c}: {h}" for c, h in hashes.items()),
            "http_attempts": sum(f.attempts for f in fetched.values()),
            "http_retried_errors": dg.MetadataValue.md(
                "\n".join(f"- {e}" for f in fetched.values() for e in f.errors) or "none"
            ),
            "new_currency_partitions": ", ".join(added.get("currency", [])) or "none",
            "fetch_seconds": round(sum(f.seconds for f in fetched.values()), 3),
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
