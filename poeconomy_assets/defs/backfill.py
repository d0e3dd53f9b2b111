"""What a new league needs materialized, as one asset backfill (``new_league_sensor`` in ``defs/live/sensors.py``
launches it; the UI can too).

The backfill covers the ``NEW_LEAGUE`` selection over the league's own partitions: its POE Watch history and
daily prices, the features of every currency seen in it, a model for every currency × horizon that has none yet
(a currency new in this league gets the pooled model, which says so in its metadata, until the weekly retrain
has history of its own to validate on), the horizons' calibration, every forecast, the report and the
scorecard. Dagster's asset backfill runs them in dependency order. Stored models are not retrained here: that
is the weekly retrain's work. Before any model was ever trained (too few leagues to validate on), the backfill
stops at the features.
"""

import dagster as dg

from poeconomy_assets.core.schemas import HORIZONS
from poeconomy_assets.defs.partitions import (
    currency_horizon_partitions,
    currency_partitions,
    horizon_partitions,
    league_partitions,
)
from poeconomy_assets.defs.selection import NEW_LEAGUE, TRAINED_ONCE


def partitions_for(
    partitions_def: dg.PartitionsDefinition | None, league_key: str, currency_keys: list[str]
) -> list[str | None]:
    """The partitions of a definition that a new league touches: its league, its currencies, every horizon."""
    if partitions_def is None:
        return [None]
    if partitions_def == league_partitions:
        return [league_key]
    if partitions_def == currency_partitions:
        return list(currency_keys)
    if partitions_def == horizon_partitions:
        return list(HORIZONS)
    if partitions_def == currency_horizon_partitions:
        return [
            str(dg.MultiPartitionKey({"currency": c, "horizon": h})) for c in currency_keys for h in HORIZONS
        ]
    raise ValueError(f"no rule for the partitions of {partitions_def}")


def league_backfill_partitions(
    instance: dg.DagsterInstance, asset_graph: object, league_key: str, currency_keys: list[str]
) -> list[tuple[dg.AssetKey, str | None]]:
    """(asset, partition key) pairs a new league needs: every asset of ``NEW_LEAGUE`` over the league's own
    partitions (in no order: the backfill orders them). Trained assets (``TRAINED_ONCE``) only where nothing is
    stored yet; before any model was ever trained (too little history), the backfill stops at the features."""
    selected = NEW_LEAGUE.resolve(asset_graph)  # type: ignore[arg-type]
    trained_once = TRAINED_ONCE.resolve(asset_graph)  # type: ignore[arg-type]
    if not instance.get_materialized_partitions(dg.AssetKey("price_models")):
        selected = selected - (TRAINED_ONCE.downstream().resolve(asset_graph))  # type: ignore[arg-type]
    wanted = []
    for key in selected:
        node = asset_graph.get(key)  # type: ignore[attr-defined]
        partitions = partitions_for(node.partitions_def, league_key, currency_keys)
        if key in trained_once:
            stored = instance.get_materialized_partitions(key)
            partitions = [p for p in partitions if p not in stored]
        wanted += [(key, p) for p in partitions]
    # A pooled model is searched only for a horizon that has a model to train.
    new_models = {k.split("|")[1] for a, k in wanted if a == dg.AssetKey("price_models") and k}
    return [(a, p) for a, p in wanted if a != dg.AssetKey("pooled_models") or p in new_models]


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
        {AssetKeyPartitionKey(key, partition) for key, partition in partitions},
        asset_graph,  # type: ignore[arg-type]
    )
    return dg.RunRequest.for_asset_graph_subset(subset, tags=tags)
