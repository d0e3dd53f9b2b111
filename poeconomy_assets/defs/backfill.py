"""What a new league needs materialized, as one asset backfill (the sensor launches it; the UI can too).

Dagster's asset backfill runs partitions of differently partitioned assets in dependency order:
poe_watch_history and daily_prices of the league, features of every currency seen in it, a model for
every currency × horizon that has none yet (a currency new in this league gets the pooled model, which
says so in its metadata, until the weekly retrain has history of its own to validate on), forecasts of
every currency × horizon, then the league's report. Stored models are not retrained here: that is the
weekly training job's work. Before any model was ever trained (too few leagues to validate on), the
backfill stops at features.
"""

import dagster as dg
from dagster import _time as dagster_time
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset  # the type

# RunRequest.for_asset_graph_subset takes; Dagster has no public constructor for it yet.
from dagster._core.definitions.events import AssetKeyPartitionKey

from poeconomy_assets.core.ingest.currency_names import CurrencyResolver
from poeconomy_assets.core.ingest.live_prices import slot_start
from poeconomy_assets.core.ingest.poe_watch_payloads import CATEGORIES, parse_items
from poeconomy_assets.core.schemas import HORIZONS
from poeconomy_assets.defs.ingestion import known_currencies
from poeconomy_assets.resources.poe_watch import PoeWatchClient


def new_league_currencies(
    poe_watch: PoeWatchClient, league: str, instance: dg.DagsterInstance, log: object
) -> list[str]:
    """Canonical names of the currencies and fragments POE Watch lists for ``league`` (near misses left out)."""
    resolver = CurrencyResolver(known_currencies(instance))
    names: set[str] = set()
    for category in CATEGORIES:
        data = poe_watch.get_items(league, category, log=log).data
        parsed = parse_items(data, league=league, category=category, snapshot_at=slot_start(dagster_time.get_current_datetime()),
                             payload_hash="", resolver=resolver)
        names |= set(parsed.rows["currency"].to_list())
    return sorted(names)


def league_backfill_subset(
    asset_graph: object, instance: dg.DagsterInstance, league_key: str, currency_keys: list[str]
) -> AssetGraphSubset:
    trained = instance.get_materialized_partitions(dg.AssetKey("price_models"))
    pooled = instance.get_materialized_partitions(dg.AssetKey("pooled_models"))
    wanted = {AssetKeyPartitionKey(dg.AssetKey(a), league_key) for a in ("poe_watch_history", "daily_prices")}
    for currency in currency_keys:
        wanted.add(AssetKeyPartitionKey(dg.AssetKey("currency_features"), currency))
        if not trained:  # nothing was ever trained: too little history yet (the training job says why)
            continue
        for horizon in HORIZONS:
            key = dg.MultiPartitionKey({"currency": currency, "horizon": horizon})
            if str(key) not in trained:
                wanted.add(AssetKeyPartitionKey(dg.AssetKey("price_models"), key))
                if horizon not in pooled:  # a new model needs its horizon's pooled model
                    wanted.add(AssetKeyPartitionKey(dg.AssetKey("pooled_models"), horizon))
            wanted.add(AssetKeyPartitionKey(dg.AssetKey("price_forecasts"), key))
    if any(p.asset_key == dg.AssetKey("price_forecasts") for p in wanted):  # a report needs forecasts
        wanted.add(AssetKeyPartitionKey(dg.AssetKey("investment_report"), league_key))
    return AssetGraphSubset.from_asset_partition_set(wanted, asset_graph)  # type: ignore[arg-type]
