"""What a new league needs materialized, as one asset backfill (the sensor launches it; the UI can too).

Dagster's asset backfill runs partitions of differently partitioned assets in dependency order:
poe_watch_history and daily_prices of the league, features of every currency seen in it, a model for
every currency × horizon that has none yet (a currency new in this league gets the pooled model, which
says so in its metadata, until the weekly retrain has history of its own to validate on), forecasts of
every currency × horizon, then the league's report. Stored models are not retrained here: that is the
weekly training job's work. Before any model was ever trained (too few leagues to validate on), the
backfill stops at features.
"""

from datetime import datetime

import dagster as dg

from poeconomy_assets.core.ingest.currency_names import CurrencyResolver
from poeconomy_assets.core.ingest.live_prices import slot_start
from poeconomy_assets.core.ingest.poe_watch_payloads import CATEGORIES, parse_items
from poeconomy_assets.core.schemas import HORIZONS
from poeconomy_assets.defs.ingestion import known_currencies
from poeconomy_assets.resources.poe_watch import PoeWatchClient


def new_league_currencies(
    poe_watch: PoeWatchClient, league: str, instance: dg.DagsterInstance, now: datetime, log: object
) -> list[str]:
    """Canonical names of the currencies and fragments POE Watch lists for ``league`` (near misses left out)."""
    resolver = CurrencyResolver(known_currencies(instance))
    names: set[str] = set()
    for category in CATEGORIES:
        data = poe_watch.get_items(league, category, log=log).data
        parsed = parse_items(data, league=league, category=category, snapshot_at=slot_start(now),
                             payload_hash="", resolver=resolver)
        names |= set(parsed.rows["currency"].to_list())
    return sorted(names)


def league_backfill_partitions(
    instance: dg.DagsterInstance, league_key: str, currency_keys: list[str]
) -> list[tuple[dg.AssetKey, str]]:
    """(asset, partition key) pairs a new league needs, parents before children."""
    trained = instance.get_materialized_partitions(dg.AssetKey("price_models"))
    wanted = [(dg.AssetKey(a), league_key) for a in ("poe_watch_history", "daily_prices")]
    wanted += [(dg.AssetKey("currency_features"), c) for c in currency_keys]
    if not trained:  # nothing was ever trained: too little history yet (the training job says why)
        return wanted
    pooled = instance.get_materialized_partitions(dg.AssetKey("pooled_models"))
    pairs = [(str(dg.MultiPartitionKey({"currency": c, "horizon": h})), h) for c in currency_keys for h in HORIZONS]
    missing = [(k, h) for k, h in pairs if k not in trained]
    # A new model needs its horizon's pooled model: add the horizons that have none (parents first).
    wanted += [(dg.AssetKey("pooled_models"), h) for h in HORIZONS if h not in pooled and any(m == h for _, m in missing)]
    wanted += [(dg.AssetKey("price_models"), k) for k, _ in missing]
    pairs = [k for k, _ in pairs]
    wanted += [(dg.AssetKey("price_forecasts"), k) for k in pairs]
    wanted.append((dg.AssetKey("investment_report"), league_key))  # a report needs forecasts
    return wanted


def asset_backfill_request(
    asset_graph: object, partitions: list[tuple[dg.AssetKey, str]], tags: dict[str, str]
) -> dg.RunRequest:
    """A run request that makes the sensor daemon launch one asset backfill of ``partitions``.

    The one place that touches Dagster internals, on purpose: Dagster 1.13 (checked in 1.13.27) has no public
    way for a sensor to launch an *asset backfill* (partitions of differently partitioned assets, run parents
    first, shown as one backfill in the UI). ``RunRequest(asset_selection=..., partition_key=...)`` launches one
    run of one partitions definition, and several run requests would start in no order (forecasts before their
    models); ``dg.BackfillPolicy`` only sets how many partitions of one asset a backfill's run covers; ``dagster``
    exports no ``AssetGraphSubset`` and no backfill request (the Python API proposed in dagster-io/dagster#26731
    was closed unmerged). ``RunRequest.for_asset_graph_subset`` is the constructor Dagster's own sensor daemon
    turns into a backfill; its docstring says it stays private only because ``AssetGraphSubset`` is not public
    yet. Replace this function when a public constructor exists.
    """
    from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
    from dagster._core.definitions.events import AssetKeyPartitionKey

    subset = AssetGraphSubset.from_asset_partition_set(
        {AssetKeyPartitionKey(key, partition) for key, partition in partitions}, asset_graph  # type: ignore[arg-type]
    )
    return dg.RunRequest.for_asset_graph_subset(subset, tags=tags)
