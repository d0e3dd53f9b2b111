"""A Parquet write killed half-way leaves a temporary file; the next write of that asset removes it."""

import multiprocessing
import os
import signal
import time
from pathlib import Path

import dagster as dg
import polars as pl

from poeconomy_assets.core.files import atomic_write
from poeconomy_assets.resources.parquet_io_manager import ParquetIOManager


def _write_then_hang(path: Path, ready: Path) -> None:
    def write(tmp: Path) -> None:
        tmp.write_bytes(b"PAR1 half a parquet file")
        ready.write_text("tmp written")
        time.sleep(120)  # the parent SIGKILLs us here

    atomic_write(path, write)


def test_the_next_write_removes_what_a_killed_write_left(tmp_path: Path) -> None:
    manager = ParquetIOManager(base_dir=str(tmp_path))
    key = dg.AssetKey(["prices"])
    path = tmp_path / "prices" / "Settlers.parquet"
    ready = tmp_path / "ready"
    child = multiprocessing.get_context("fork").Process(target=_write_then_hang, args=(path, ready))
    child.start()
    deadline = time.monotonic() + 30
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    leftovers = [p.name for p in path.parent.iterdir() if p.name != path.name]
    assert leftovers and all(name.endswith(".tmp") for name in leftovers)  # what a kill leaves

    context = dg.build_output_context(asset_key=key, partition_key="Settlers")
    manager.handle_output(context, pl.DataFrame({"x": [1, 2]}))
    assert sorted(p.name for p in path.parent.iterdir()) == ["Settlers.parquet"]
    assert pl.read_parquet(path)["x"].to_list() == [1, 2]


def test_a_temporary_file_of_a_live_writer_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "prices" / "Settlers.parquet"
    path.parent.mkdir(parents=True)
    mine = path.with_name(f".{path.name}.{os.getpid()}.other.tmp")  # a write in progress in a live process
    mine.write_bytes(b"in progress")
    atomic_write(path, lambda p: p.write_bytes(b"done"))
    assert mine.exists() and path.read_bytes() == b"done"
