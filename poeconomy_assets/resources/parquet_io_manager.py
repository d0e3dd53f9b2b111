"""IO manager that stores polars frames as Parquet and small dicts as JSON, one file per partition.

Writes go to a temporary file that is renamed into place, so a failed or killed run never leaves a
half-written partition and a re-run replaces (never appends to) what was there.
"""

import json
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from poeconomy_assets.core.files import atomic_write


def _partition_path(key: str) -> str:
    # Multi-partition keys "currency|horizon" become nested folders; single keys are already path-safe.
    return key.replace("|", "/")


class ParquetIOManager(dg.ConfigurableIOManager):
    """Polars DataFrames ↔ ``{base_dir}/{asset}/{partition}.parquet``; dicts ↔ ``.json``."""

    base_dir: str

    def _path(self, asset_key: dg.AssetKey, partition_key: str | None, suffix: str) -> Path:
        name = _partition_path(partition_key) if partition_key else "__all__"
        return Path(self.base_dir, *asset_key.path, f"{name}{suffix}")

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        partition = context.asset_partition_key if context.has_asset_partitions else None
        path = self.store(context.asset_key, partition, obj)
        metadata: dict[str, Any] = {"path": dg.MetadataValue.path(str(path))}
        if isinstance(obj, pl.DataFrame):
            metadata |= {"row_count": obj.height, "dagster/row_count": obj.height,
                         "dagster/column_schema": dg.TableSchema(
                             columns=[dg.TableColumn(name, str(dtype)) for name, dtype in obj.schema.items()])}
        context.add_output_metadata(metadata)

    def store(self, asset_key: dg.AssetKey, partition: str | None, obj: Any) -> Path:
        """Write one asset partition's value (a frame as Parquet, a dict as JSON) where ``read`` finds it."""
        if isinstance(obj, pl.DataFrame):
            path = self._path(asset_key, partition, ".parquet")
            atomic_write(path, lambda p: obj.write_parquet(p, compression="zstd"))
        elif isinstance(obj, dict):
            path = self._path(asset_key, partition, ".json")
            atomic_write(path, lambda p: p.write_text(json.dumps(obj, indent=1, default=str)))
        else:
            raise TypeError(f"ParquetIOManager stores polars DataFrames or dicts, not {type(obj).__name__}")
        return path

    def read(self, asset_key: dg.AssetKey, partition: str | None = None) -> Any:
        """The stored value of one asset partition (outside a run, e.g. the CLI); FileNotFoundError names the
        file looked for when it was never materialized."""
        return self._load_one(asset_key, partition)

    def _load_one(self, asset_key: dg.AssetKey, partition: str | None) -> Any:
        parquet = self._path(asset_key, partition, ".parquet")
        if parquet.exists():
            return pl.read_parquet(parquet)
        as_json = self._path(asset_key, partition, ".json")
        if as_json.exists():
            return json.loads(as_json.read_text())
        raise FileNotFoundError(
            f"no stored value for asset {asset_key.to_user_string()} partition {partition!r} "
            f"(looked for {parquet}); materialize it first"
        )

    def load_input(self, context: dg.InputContext) -> Any:
        asset_key = context.asset_key
        if not context.has_asset_partitions:
            return self._load_one(asset_key, None)
        keys = list(context.asset_partition_keys)
        if len(keys) == 1:
            return self._load_one(asset_key, keys[0])
        # Many upstream partitions (AllPartitionMapping): concatenate frames that exist. Partitions
        # registered but never materialized (e.g. a league added a moment ago) are skipped and logged.
        values, missing = [], []
        for key in keys:
            try:
                values.append(self._load_one(asset_key, key))
            except FileNotFoundError:
                missing.append(key)
        if missing:
            context.log.warning(
                f"{asset_key.to_user_string()}: {len(missing)} of {len(keys)} partitions not materialized "
                f"yet, left out: {missing[:5]}{' …' if len(missing) > 5 else ''}"
            )
        if not values:
            raise FileNotFoundError(f"no partition of {asset_key.to_user_string()} is materialized yet")
        if all(isinstance(v, pl.DataFrame) for v in values):
            return pl.concat(values, how="diagonal_relaxed")
        return values

