"""IO manager that stores polars frames as Parquet and small dicts as JSON, one file per partition.

A run may cover many partitions of an asset (a batched backfill run, see ``defs/batching.py``): the asset then
returns a :class:`ByPartition` mapping, one value per key, and each key gets its own file. Inputs spanning many
upstream partitions come back as one concatenated frame (frames) or a ``ByPartition`` (dicts).

Writes go to a temporary file that is renamed into place, so a failed or killed run never leaves a
half-written partition and a re-run replaces (never appends to) what was there.
"""

import json
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from poeconomy_assets.core.columns import describe_column
from poeconomy_assets.core.files import atomic_write


class ByPartition(dict):
    """An asset's value per partition key, for a run that materializes several partitions at once."""


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
        if not context.has_asset_partitions:
            values = {None: obj}
        else:
            keys = [str(k) for k in context.asset_partition_keys]
            if isinstance(obj, ByPartition):
                got = {str(k) for k in obj}
                if got != set(keys):
                    extra, missing = sorted(got - set(keys)), sorted(set(keys) - got)
                    raise ValueError(
                        f"{context.asset_key.to_user_string()}: the run targets {len(keys)} partitions "
                        f"but its value holds {len(got)} (not targeted: {extra[:5]}, missing: "
                        f"{missing[:5]})"
                    )
                values = {str(k): v for k, v in obj.items()}
            elif len(keys) == 1:
                values = {keys[0]: obj}
            else:
                raise TypeError(
                    f"{context.asset_key.to_user_string()}: a run of {len(keys)} partitions must "
                    "return a ByPartition mapping (one value per partition key)"
                )
        paths = [self.store(context.asset_key, key, value) for key, value in values.items()]
        frames = [v for v in values.values() if isinstance(v, pl.DataFrame)]
        metadata: dict[str, Any] = {
            "path": dg.MetadataValue.path(str(paths[0].parent if len(paths) > 1 else paths[0]))
        }
        if frames:
            rows = sum(f.height for f in frames)
            metadata |= {
                "row_count": rows,
                "dagster/row_count": rows,
                "dagster/column_schema": dg.TableSchema(
                    columns=[
                        dg.TableColumn(name, str(dtype), description=describe_column(name))
                        for name, dtype in frames[0].schema.items()
                    ]
                ),
            }
        if len(paths) > 1:
            metadata["files_written"] = len(paths)
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
        keys = [str(k) for k in context.asset_partition_keys]
        # One upstream partition: its value. Many (AllPartitionMapping, or a batched run): frames concatenated, dicts
        # (model manifests) as a ByPartition. Partitions registered but never materialized (e.g. a league added a
        # moment ago) are skipped and logged.
        if len(keys) == 1:
            return self._load_one(asset_key, keys[0])
        values, missing = ByPartition(), []
        for key in keys:
            try:
                values[key] = self._load_one(asset_key, key)
            except FileNotFoundError:
                missing.append(key)
        if missing:
            context.log.warning(
                f"{asset_key.to_user_string()}: {len(missing)} of {len(keys)} partitions not materialized "
                f"yet, left out: {missing[:5]}{' …' if len(missing) > 5 else ''}"
            )
        if not values:
            raise FileNotFoundError(f"no partition of {asset_key.to_user_string()} is materialized yet")
        if all(isinstance(v, pl.DataFrame) for v in values.values()):
            return pl.concat(list(values.values()), how="diagonal_relaxed")
        return values
