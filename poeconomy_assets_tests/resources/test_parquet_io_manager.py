"""Round trips through the Parquet IO manager with real partitioned materializations."""

from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from poeconomy_assets.resources.parquet_io_manager import ParquetIOManager

letters = dg.StaticPartitionsDefinition(["a", "b"])
pairs = dg.MultiPartitionsDefinition({"letter": letters, "n": dg.StaticPartitionsDefinition(["1", "2"])})


@dg.asset(partitions_def=letters)
def per_letter(context: dg.AssetExecutionContext) -> pl.DataFrame:
    return pl.DataFrame({"letter": [context.partition_key] * 2, "x": [1, 2]})


@dg.asset(ins={"per_letter": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())})
def combined(per_letter: pl.DataFrame) -> pl.DataFrame:
    return per_letter.sort("letter")


@dg.asset(partitions_def=pairs)
def manifest(context: dg.AssetExecutionContext) -> dict:
    return {"key": str(context.partition_key)}


@dg.asset(partitions_def=pairs, ins={"manifest": dg.AssetIn()})
def uses_manifest(context: dg.AssetExecutionContext, manifest: dict) -> pl.DataFrame:
    return pl.DataFrame({"key": [manifest["key"]]})


def _io(tmp_path: Path) -> dict:
    return {"io_manager": ParquetIOManager(base_dir=str(tmp_path))}


def test_partitions_are_combined_for_an_all_partition_consumer(tmp_path: Path) -> None:
    with dg.instance_for_test() as instance:
        for key in ("a", "b"):
            dg.materialize([per_letter], partition_key=key, resources=_io(tmp_path), instance=instance)
        # re-running a partition replaces it, it does not append
        dg.materialize([per_letter], partition_key="a", resources=_io(tmp_path), instance=instance)
        result = dg.materialize(
            [per_letter, combined], selection=[combined], resources=_io(tmp_path), instance=instance
        )
    assert result.output_for_node("combined")["letter"].to_list() == ["a", "a", "b", "b"]
    assert sorted(p.name for p in (tmp_path / "per_letter").iterdir()) == ["a.parquet", "b.parquet"]


def test_missing_upstream_partition_is_logged_not_silently_zero(tmp_path: Path) -> None:
    with dg.instance_for_test() as instance:
        dg.materialize([per_letter], partition_key="b", resources=_io(tmp_path), instance=instance)
        result = dg.materialize(
            [per_letter, combined], selection=[combined], resources=_io(tmp_path), instance=instance
        )
        logs = [e.message for e in instance.all_logs(result.run_id) if e.message]
    assert result.output_for_node("combined")["letter"].to_list() == ["b", "b"]
    assert any("1 of 2 partitions not materialized" in m for m in logs)


def test_multi_partition_dicts_round_trip(tmp_path: Path) -> None:
    key = dg.MultiPartitionKey({"letter": "a", "n": "2"})
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [manifest, uses_manifest], partition_key=str(key), resources=_io(tmp_path), instance=instance
        )
    assert result.output_for_node("uses_manifest")["key"].to_list() == [str(key)]
    assert (tmp_path / "manifest" / "a" / "2.json").exists()


def test_unknown_types_are_refused(tmp_path: Path) -> None:
    @dg.asset
    def odd() -> list:
        return [1]

    with pytest.raises(TypeError, match="polars DataFrames or dicts"):
        dg.materialize([odd], resources=_io(tmp_path))
