"""Live prices from POE Watch: one snapshot of a league every 5 minutes, stored once per slot.

The asset hands its run to ``core/ingest/snapshot.py`` (``take_snapshot``: which slot, what is refilled or lost,
what is stored, the metadata) with the price source, the price store, the live clock and what the instance knows
of the league's runs (``slot_ledger.InstanceRecords``), and turns the result into its materialization.
"""

from datetime import timedelta

import dagster as dg

from poeconomy_assets.core.ingest import CATEGORIES, SnapshotRequest, take_snapshot
from poeconomy_assets.core.keys import name_from_key
from poeconomy_assets.defs.live.results import as_metadata, failing_step
from poeconomy_assets.defs.live.slot_ledger import InstanceRecords
from poeconomy_assets.defs.partitions import league_partitions
from poeconomy_assets.resources.live_clock import LiveClock
from poeconomy_assets.resources.price_source import PriceSource
from poeconomy_assets.resources.price_store import PriceStore

FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(minutes=15), warn_window=timedelta(minutes=10)
)


class SnapshotConfig(dg.Config):
    """The 5-minute slot this run is meant for (the sensor sets it; default: the current slot), earlier slots it
    is to refill (slot -> why it was missed) and which categories."""

    slot: str | None = None  # e.g. "2025-06-14T10:05:00Z"
    missed_slots: dict[str, str] = {}  # noqa: RUF012 (pydantic copies defaults per instance)
    categories: list[str] = list(CATEGORIES)  # noqa: RUF012 (pydantic copies defaults per instance)


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
    with failing_step():  # the source gave up, or sent an unusable payload: nothing stored
        result = take_snapshot(
            SnapshotRequest(league, config.slot, config.missed_slots, tuple(config.categories)),
            source=poe_watch,
            store=price_store,
            clock=live_clock.now,
            records=InstanceRecords(context.instance, context.partition_key, context.run_id),
            log=context.log,
        )
    context.log.info(result.summary)
    return dg.MaterializeResult(metadata=as_metadata(result.metadata))
