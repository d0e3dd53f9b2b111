"""Runs that materialize many partitions of one asset at once (Dagster backfill policies).

A backfill of a partitioned asset groups its partitions into runs by the asset's ``BackfillPolicy``: every
currency's features in one run (they are built from one table), models and forecasts in chunks of
``CHUNK`` currency × horizon keys (two chunks at a time keep both cores busy, and a chunk does its horizon's
work once), reports and daily prices in one run. The asset loops over :func:`run_partition_keys` and records
each partition's own metadata with ``context.add_asset_metadata(..., partition_key=key)``, so a user who opens
one partition in the UI sees that partition's numbers.
"""

import warnings
from collections.abc import Mapping
from typing import Any

import dagster as dg

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
PARTITION = "dagster/partition"

CHUNK = 100  # currency × horizon keys per run of price_models / price_forecasts (233 items × 3: 7 runs)
ONE_RUN = dg.BackfillPolicy.single_run()
CHUNKED = dg.BackfillPolicy.multi_run(max_partitions_per_run=CHUNK)
PER_PARTITION = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
# `backfill_policy=` on @asset is beta in 1.13 (stable in use here: checked on 1.13.27, see the module docstring).
warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy`", category=dg.BetaWarning)


class PartitionKeysMismatch(RuntimeError):
    """A run was asked to materialize other partitions than its tags name (dagster-io/dagster#28861)."""


def run_partition_keys(context: dg.AssetExecutionContext) -> list[str]:
    """The partition keys this run materializes, after checking them against the run's partition tags.

    A job backfill of a multi-partitioned job gives each run range tags but one (wrong) partition to
    materialize, and reports success (dagster-io/dagster#28861): here that fails the run, naming both sides."""
    keys = [str(k) for k in context.partition_keys]
    tags = context.run.tags
    if RANGE_START in tags and RANGE_END in tags:
        partitions_def = context.assets_def.partitions_def
        assert partitions_def is not None
        with dg.partition_loading_context(dynamic_partitions_store=context.instance):
            wanted = partitions_def.get_partition_keys_in_range(
                dg.PartitionKeyRange(tags[RANGE_START], tags[RANGE_END])
            )
        named = f"range {tags[RANGE_START]} … {tags[RANGE_END]} ({len(wanted)} keys)"
    elif PARTITION in tags:
        wanted, named = [tags[PARTITION]], f"partition {tags[PARTITION]}"
    else:
        return keys
    if sorted(map(str, wanted)) != sorted(keys):
        raise PartitionKeysMismatch(
            f"{context.assets_def.key.to_user_string()}: the run's tags name {named}, but it was asked to "
            f"materialize {len(keys)} key(s) {keys[:3]}{' …' if len(keys) > 3 else ''} (dagster-io/dagster#28861: "
            "launch an asset backfill, not a job backfill, of multi-partitioned assets)"
        )
    return keys


def run_value(values: dict) -> Any:
    """What a run returns: its one partition's value, or a ``ByPartition`` of every key's value (the IO manager
    writes one file per key either way; a one-partition run's output reads as before, e.g. in tests)."""
    from poeconomy_assets.resources.parquet_io_manager import ByPartition

    return next(iter(values.values())) if len(values) == 1 else ByPartition(values)


def partition_metadata(context: dg.AssetExecutionContext, key: str, metadata: Mapping[str, Any]) -> None:
    """``metadata`` on partition ``key``'s own materialization event (what its page in the UI shows)."""
    context.add_asset_metadata(dict(metadata), partition_key=key)
