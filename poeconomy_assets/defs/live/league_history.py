"""A live league's earlier days, from POE Watch ``/history``: what a new league needs before its first forecast."""

import time
from datetime import UTC, datetime

import dagster as dg
import polars as pl

from poeconomy_assets.core.ingest import (
    CATEGORIES,
    CurrencyResolver,
    far_from_median,
    far_reason,
    fetch_or_fail,
    parse_history,
    parse_items,
)
from poeconomy_assets.core.keys import name_from_key
from poeconomy_assets.core.schemas import SNAPSHOT_COLUMNS
from poeconomy_assets.defs.live.results import failing_step
from poeconomy_assets.defs.partitions import known_currencies, league_partitions
from poeconomy_assets.resources.price_source import PriceSource
from poeconomy_assets.resources.price_store import PriceStore


@dg.asset(group_name="ingestion", partitions_def=league_partitions, pool="poe_watch_api", kinds={"polars"})
def poe_watch_history(
    context: dg.AssetExecutionContext, poe_watch: PriceSource, price_store: PriceStore
) -> dg.MaterializeResult:
    """One daily mean per currency for every earlier day of a live league, stored beside its snapshots.

    Lists the league's currencies with ``/get``, then asks ``/history`` for each; a day is stored as one
    snapshot row at the time POE Watch gives, so re-running adds nothing.
    """
    league = name_from_key(context.partition_key)
    started = time.perf_counter()
    resolver = CurrencyResolver(known_currencies(context.instance))
    now = datetime.now(UTC)
    items = []
    for category in CATEGORIES:
        with failing_step():  # the source gave up: the step fails with its attempts and breaker
            response = fetch_or_fail(
                lambda c=category: poe_watch.get_items(league, c, log=context.log),
                f"/get {league} {category}",
            )
        parsed = parse_items(
            response.data,
            league=league,
            category=category,
            snapshot_at=now,
            payload_hash="",
            resolver=resolver,
        )
        items += parsed.rows.select("currency", "category", "item_id").rows()
    if not items:
        raise dg.Failure(description=f"POE Watch lists no currency or fragment for league {league!r} yet")
    rows, bad_points, requests = [], 0, 0
    for currency, category, item_id in items:
        with failing_step():
            response = fetch_or_fail(
                lambda i=item_id: poe_watch.get_history(league, i, log=context.log),
                f"/history {league} {currency}",
            )
        requests += response.attempts
        record = price_store.archive_payload(league, f"history:{item_id}", response.fetched_at, response.body)
        points, bad = parse_history(response.data, f"/history?league={league}&id={item_id}")
        bad_points += bad
        rows += [
            {
                "league": league,
                "currency": currency,
                "category": category,
                "item_id": item_id,
                "snapshot_at": p.day_at,
                "mean_chaos": p.mean,
                "min_chaos": None,
                "max_chaos": None,
                "daily": None,
                "low_confidence": False,
                "payload_hash": record.hash,
            }
            for p in points
        ]
    far, median = far_from_median([row["snapshot_at"].date() for row in rows])  # the dump importer's rule
    far_points = sum(far)
    if far_points:
        context.log.warning(f"{league}: {far_points} history points skipped: {far_reason(median)}")
    rows = [row for row, is_far in zip(rows, far, strict=True) if not is_far]
    frame = pl.DataFrame(rows, schema=SNAPSHOT_COLUMNS).unique(["currency", "snapshot_at"], keep="first")
    inserted = price_store.upsert_snapshots(frame) if frame.height else 0
    context.log.info(f"{league}: {frame.height} daily points for {len(items)} currencies, {inserted} new")
    days = frame["snapshot_at"].dt.date() if frame.height else None
    return dg.MaterializeResult(
        metadata={
            "league": league,
            "currencies": len(items),
            "points": frame.height,
            "points_inserted": inserted,
            "points_already_stored": frame.height - inserted,
            "points_unusable": bad_points,
            "points_far_from_league": far_points,
            "first_day": str(days.min()) if days is not None else "none",
            "last_day": str(days.max()) if days is not None else "none",
            "http_attempts": requests,
            "seconds": round(time.perf_counter() - started, 3),
        }
    )
