"""A payload counts as processed only in the transaction that stores its rows: a failed write is retried in full."""

import sqlite3
from pathlib import Path

import dagster as dg

from poeconomy_assets.core.keys import key_from_name
from poeconomy_assets.resources.price_store_sqlite import EmbeddedPriceStore

from ..conftest import Live

SLOT, NEXT_SLOT = "2025-06-20T12:00:00Z", "2025-06-20T12:05:00Z"
N_ROWS = 4


class _FailingConnection(sqlite3.Connection):
    """A real SQLite connection whose snapshot INSERT fails while the marker file exists (a full disk, a lost
    connection): the fault is injected in the database call, not in the code under test."""

    marker: Path

    def _check(self, statement: str) -> None:
        if "INSERT INTO snapshots" in statement and self.marker.exists():
            self.marker.unlink()
            raise sqlite3.OperationalError("database or disk is full (injected)")

    def execute(self, statement, *args):
        self._check(statement)
        return super().execute(statement, *args)

    def executemany(self, statement, *args):
        self._check(statement)
        return super().executemany(statement, *args)


class FlakyStore(EmbeddedPriceStore):
    """The embedded store; its next snapshot write fails once while ``marker`` exists."""

    marker: str

    def _sqlite_connect(self) -> sqlite3.Connection:
        factory = type("Failing", (_FailingConnection,), {"marker": Path(self.marker)})
        return sqlite3.connect(self.path, timeout=30, isolation_level=None, factory=factory)


def _ingest(live: Live, slot: str) -> dg.ExecuteInProcessResult:
    if key_from_name("Simulated") not in live.instance.get_dynamic_partitions("league"):
        live.instance.add_dynamic_partitions("league", [key_from_name("Simulated")])
    return live.defs.resolve_job_def("ingestion_job").execute_in_process(
        instance=live.instance,
        partition_key="Simulated",
        raise_on_error=False,
        run_config={"ops": {"poe_watch_snapshots": {"config": {"slot": slot}}}},
    )


def _metadata(result: dg.ExecuteInProcessResult) -> dict:
    event = result.asset_materializations_for_node("poe_watch_snapshots")[0]
    return {k: v.value for k, v in event.metadata.items()}


def test_a_failed_store_is_retried_and_stores_every_valid_row(live: Live, tmp_path: Path) -> None:
    marker = tmp_path / "fail-next-snapshot-write"
    store = FlakyStore(path=live.store().path, marker=str(marker))
    live.resources = {**live.resources, "price_store": store}
    marker.write_text("fail once")
    failed = _ingest(live, SLOT)
    assert not failed.success and not marker.exists()  # the injected fault fired, the run failed
    assert store.read_snapshots("Simulated").height == 0
    assert store.last_payload_hash("Simulated", "currency") is None  # not processed: nothing archived

    retried = _metadata(_ingest(live, SLOT))  # the Dagster retry (or the next slot) sees the same payload
    assert retried["no_op"] is False and retried["rows_inserted"] == N_ROWS
    assert store.read_snapshots("Simulated").height == N_ROWS

    later = _metadata(_ingest(live, NEXT_SLOT))  # only now is the unchanged payload a no-op
    assert later["no_op"] is True and later["rows_inserted"] == 0
