"""Live prices from POE Watch: one snapshot of a league every 5 minutes, stored once per slot."""

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

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
from poeconomy_assets.core.keys import name_from_key
from poeconomy_assets.core.report.markdown import frame_to_markdown
from poeconomy_assets.defs.partitions import league_partitions, register_partitions
from poeconomy_assets.resources.poe_watch import Fetched, PoeWatchClient, PoeWatchUnavailable
from poeconomy_assets.resources.price_store import SNAPSHOT_COLUMNS, PriceStore, RawPayload, payload_hash

FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(minutes=15), warn_window=timedelta(minutes=10))


class SnapshotConfig(dg.Config):
    """Which 5-minute slot this run stores (the sensor sets it; default: the current slot) and which categories."""

    slot: str | None = None  # e.g. "2025-06-14T10:05:00Z"
    categories: list[str] = list(CATEGORIES)  # noqa: RUF012 (pydantic copies defaults per instance)


def known_currencies(instance: dg.DagsterInstance) -> list[str]:
    """Names of the currency partitions (every currency seen in dumps or earlier snapshots)."""
    return [name_from_key(k) for k in instance.get_dynamic_partitions("currency")]


def fetch_or_fail(fetch: Callable[[], Fetched], what: str) -> Fetched:
    """Call POE Watch; an unreachable API fails the step with the attempts and breaker state in metadata."""
    try:
        return fetch()
    except PoeWatchUnavailable as exc:
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


@dg.asset(
    group_name="ingestion",
    partitions_def=league_partitions,
    pool="poe_watch_api",
    freshness_policy=FRESHNESS,
    kinds={"polars"},
)
def poe_watch_snapshots(
    context: dg.AssetExecutionContext, config: SnapshotConfig, poe_watch: PoeWatchClient, price_store: PriceStore
) -> dg.MaterializeResult:
    """Currency and fragment prices of one live league at one 5-minute slot, from POE Watch ``/get``.

    Raw payloads are archived (gzip + sha256) in the same transaction as the rows parsed from them, so a failed
    write leaves the payload unprocessed for the retry; rows are keyed by (league, currency, slot), so a re-run
    stores nothing twice, and a payload identical to the last stored one is a recorded no-op.
    """
    league = name_from_key(context.partition_key)
    slot = parse_slot(config.slot) if config.slot else slot_start(datetime.now(UTC))
    started = time.perf_counter()
    fetched = {
        c: fetch_or_fail(lambda c=c: poe_watch.get_items(league, c, log=context.log), f"/get {league} {c}")
        for c in config.categories
    }
    for category, response in fetched.items():  # payload-level problems fail before anything is archived
        try:
            require_list(response.data, f"/get?league={league}&category={category}")
        except PayloadError as exc:
            raise dg.Failure(description=f"POE Watch sent an unusable payload: {exc}",
                             metadata={"url": response.url}) from exc
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
        parsed = parse_items(response.data, league=league, category=category, snapshot_at=slot,
                             payload_hash=digest, resolver=resolver, last_prices=reference)
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
        rows = rows.sort("daily", descending=True, nulls_last=True).unique(["currency"], keep="first").sort("currency")
        counts["duplicate_id"] = counts.get("duplicate_id", 0) + before - rows.height
    # One transaction: the payloads count as processed only if their rows are stored with them.
    inserted = price_store.store_payloads_and_snapshots(payloads, rows if rows.height else
                                                        pl.DataFrame(schema=SNAPSHOT_COLUMNS))
    added = register_partitions(context.instance, [], sorted(rows["currency"].unique())) if rows.height else {}
    no_op = len(unchanged) == len(fetched)
    summary = (f"{league} @ {slot_key(slot)}: " + ("no-op, payload unchanged since the last fetch" if no_op else
               f"{inserted} new rows of {rows.height} accepted ({received} received)"))
    context.log.info(summary)
    return dg.MaterializeResult(
        metadata={
            "league": league,
            "slot": slot_key(slot),
            "no_op": no_op,
            "unchanged_categories": ", ".join(unchanged) or "none",
            "no_data_categories": ", ".join(no_data) or "none",
            "rows_received": received,
            "rows_accepted": rows.height,
            "rows_inserted": inserted,
            "rows_already_stored": rows.height - inserted,
            **{f"rows_{reason}": n for reason, n in counts.items()},
            "problems": dg.MetadataValue.md(frame_to_markdown(pl.DataFrame(problems), max_rows=40)
                                            if problems else "none"),
            "payload_sha256": ", ".join(f"{c}: {h}" for c, h in hashes.items()),
            "http_attempts": sum(f.attempts for f in fetched.values()),
            "http_retried_errors": dg.MetadataValue.md(
                "\n".join(f"- {e}" for f in fetched.values() for e in f.errors) or "none"),
            "circuit_breaker": poe_watch.breaker.status(),
            "new_currency_partitions": ", ".join(added.get("currency", [])) or "none",
            "fetch_seconds": round(sum(f.seconds for f in fetched.values()), 3),
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
