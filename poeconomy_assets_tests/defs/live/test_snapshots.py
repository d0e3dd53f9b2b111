"""poe_watch_snapshots against the local server: idempotent per slot, no-ops, faults, the breaker."""

import time

import dagster as dg
import polars as pl
import pytest

from poeconomy_assets.core.keys import key_from_name

from ...conftest import fast_client
from ..conftest import Live

SLOT, NEXT_SLOT = "2025-06-20T12:00:00Z", "2025-06-20T12:05:00Z"
N_ROWS = 4  # the server's 4 simulated currencies (its fragment list is empty)


def _ingest(live: Live, slot: str, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    if key_from_name("Simulated") not in live.instance.get_dynamic_partitions("league"):
        live.instance.add_dynamic_partitions("league", [key_from_name("Simulated")])
    return live.defs.resolve_job_def("ingestion_job").execute_in_process(
        instance=live.instance,
        partition_key="Simulated",
        raise_on_error=raise_on_error,
        run_config={"ops": {"poe_watch_snapshots": {"config": {"slot": slot}}}},
    )


def _metadata(result: dg.ExecuteInProcessResult) -> dict:
    event = result.asset_materializations_for_node("poe_watch_snapshots")[0]
    return {k: v.value for k, v in event.metadata.items()}


def _failure_message(result: dg.ExecuteInProcessResult) -> tuple[str, dict]:
    failure = next(e for e in result.all_events if e.is_step_failure)
    data = failure.step_failure_data
    metadata = {
        k: v.value for k, v in (data.user_failure_data.metadata if data.user_failure_data else {}).items()
    }
    return data.error.to_string(), metadata


def _assert_clean_store(live: Live, expected_rows: int) -> None:
    stored = live.defs.resources["price_store"].read_snapshots("Simulated")
    assert stored.height == expected_rows
    assert stored.select("currency", "snapshot_at").is_duplicated().sum() == 0


def test_rerunning_a_slot_adds_nothing_and_an_unchanged_payload_is_a_no_op(live: Live) -> None:
    first = _metadata(_ingest(live, SLOT))
    assert first["rows_inserted"] == N_ROWS and first["no_op"] is False
    live.server.control({"recompute_seconds": 60, "advance_seconds": 60})  # a different payload, same slot
    again = _metadata(_ingest(live, SLOT))
    assert again["rows_inserted"] == 0 and again["rows_already_stored"] == N_ROWS
    unchanged = _metadata(_ingest(live, SLOT))  # the server has not recomputed since
    assert unchanged["no_op"] is True and unchanged["rows_inserted"] == 0
    assert unchanged["unchanged_categories"] == "currency, fragment"
    _assert_clean_store(live, N_ROWS)
    payloads = live.store().last_payload_hash("Simulated", "currency")
    assert payloads is not None and len(payloads) == 64


def test_daily_prices_of_the_live_league_come_from_its_snapshots(live: Live) -> None:
    _ingest(live, SLOT)
    live.server.control({"advance_seconds": 300})
    result = _ingest(live, NEXT_SLOT)
    daily = result.output_for_node("daily_prices")
    past = pl.read_parquet(
        live.home / "data" / "poe_ninja_history" / "__all__.parquet"
    )  # what dump leagues get
    assert set(past.columns) <= set(daily.columns)  # one history for features and models
    assert (
        daily.height == N_ROWS
        and (daily["n_snapshots"] == 2).all()
        and (daily["source"] == "poe.watch").all()
    )
    stored = live.store().read_snapshots("Simulated").sort("snapshot_at")
    divine = daily.filter(pl.col("currency") == "Divine Orb").row(0, named=True)
    means = stored.filter(pl.col("currency") == "Divine Orb")["mean_chaos"].to_list()
    assert divine["open_chaos"] == means[0] and divine["close_chaos"] == means[1]
    assert divine["price_chaos"] == pytest.approx(sum(means) / 2)
    assert divine["price_divine"] == pytest.approx(1.0)


# Every kind is retried at the client level (resources/test_poe_watch.py); here one of each family end to end.
TRANSIENT = ["429", "html", "drop", "latency"]


@pytest.mark.parametrize("kind", TRANSIENT)
def test_run_succeeds_after_retries(live: Live, kind: str) -> None:
    live.server.control({"fault": {"kind": kind, "times": 2, "retry_after": 0.05, "latency": 2.5}})
    metadata = _metadata(_ingest(live, SLOT))
    assert (
        metadata["rows_inserted"] == N_ROWS and metadata["http_attempts"] == 4
    )  # 3 + 1 for the 2 categories
    assert "attempt 1" in metadata["http_retried_errors"]
    _assert_clean_store(live, N_ROWS)


@pytest.mark.parametrize("kind", ["500", "malformed"])
def test_persistent_fault_on_the_second_category_fails_clearly_and_stores_nothing(
    live: Live, kind: str
) -> None:
    # the currency request goes through, every fragment request fails: nothing may be half-written
    live.server.control({"fault": {"kind": kind, "times": None, "after": 1}})
    result = _ingest(live, SLOT, raise_on_error=False)
    assert not result.success
    message, metadata = _failure_message(result)
    assert "/get Simulated fragment" in message and "failed after 3 attempt(s)" in message, message
    assert metadata["attempts"] == 3
    _assert_clean_store(live, 0)
    assert live.store().last_payload_hash("Simulated", "currency") is None  # not even archived


@pytest.mark.parametrize("kind", ["null", "object"])
def test_no_data_and_wrong_shape_payloads(live: Live, kind: str) -> None:
    live.server.control({"fault": {"kind": kind, "times": 2}})
    result = _ingest(live, SLOT, raise_on_error=False)
    if (
        kind == "null"
    ):  # no data: an empty snapshot, never zero prices (daily_prices then has nothing to build)
        assert result.is_node_success("poe_watch_snapshots")
        assert (
            _metadata(result)["rows_inserted"] == 0
            and _metadata(result)["no_data_categories"] == "currency, fragment"
        )
    else:
        assert not result.success
        assert "returned a JSON dict, not a list" in _failure_message(result)[0]
    _assert_clean_store(live, 0)


def test_circuit_breaker_opens_in_the_run_and_closes_after_cooldown(live: Live) -> None:
    client = fast_client(live.server.url, live.tmp, breaker_cooldown_seconds=4.0)
    live.resources = {**live.resources, "poe_watch": client}
    live.server.control({"fault": {"kind": "503", "times": None, "retry_after": 0.01}})
    first = _ingest(live, SLOT, raise_on_error=False)  # 3 failed attempts (threshold 5)
    second = _ingest(live, SLOT, raise_on_error=False)  # 2 more: the breaker opens
    message, metadata = _failure_message(second)
    opened_at = time.monotonic()
    assert not first.success and "opened after 5 consecutive failures" in message
    assert metadata["circuit_breaker"] == "open"
    calls = live.server.api_requests()
    message, metadata = _failure_message(_ingest(live, SLOT, raise_on_error=False))
    assert "is open" in message and live.server.api_requests() == calls
    live.server.control({"clear_faults": True})
    time.sleep(max(0.0, 4.05 - (time.monotonic() - opened_at)))
    recovered = _metadata(_ingest(live, SLOT))
    assert recovered["circuit_breaker"] == "closed" and recovered["rows_inserted"] == N_ROWS


@pytest.mark.postgres
def test_rerun_and_partial_failure_on_the_postgres_store(live: Live, postgres_url: str) -> None:
    """The same guarantees with the production store (PostgreSQL)."""
    import uuid

    import psycopg2

    from poeconomy_assets.resources.price_store_postgres import PostgresPriceStore

    schema = f"test_ingest_{uuid.uuid4().hex[:10]}"
    live.resources = {**live.resources, "price_store": PostgresPriceStore(url=postgres_url, db_schema=schema)}
    try:
        assert _metadata(_ingest(live, SLOT))["rows_inserted"] == N_ROWS
        live.server.control({"advance_seconds": 300, "fault": {"kind": "500", "times": None, "after": 1}})
        assert not _ingest(live, NEXT_SLOT, raise_on_error=False).success  # fragment fails: nothing written
        live.server.control({"clear_faults": True})
        assert (
            _metadata(_ingest(live, NEXT_SLOT))["rows_inserted"] == N_ROWS
        )  # the retry stores what is valid
        assert _metadata(_ingest(live, NEXT_SLOT))["rows_inserted"] == 0  # same slot again
        _assert_clean_store(live, 2 * N_ROWS)
    finally:
        with psycopg2.connect(postgres_url) as connection, connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        connection.close()


def test_the_recorded_source_plugs_into_the_same_asset(live: Live) -> None:
    """The ``poe_watch`` resource is any PriceSource: the spec's recorded payloads, no server, same asset."""
    from poeconomy_assets.resources.recorded_source import RecordedPriceSource

    from ...conftest import SPEC_FIXTURES

    live.resources = {**live.resources, "poe_watch": RecordedPriceSource(directory=str(SPEC_FIXTURES))}
    live.instance.add_dynamic_partitions("league", [key_from_name("Settlers")])
    result = live.defs.resolve_job_def("ingestion_job").execute_in_process(
        instance=live.instance,
        partition_key="Settlers",
        run_config={"ops": {"poe_watch_snapshots": {"config": {"slot": SLOT}}}},
    )
    metadata = _metadata(result)
    assert metadata["rows_received"] == 18 and metadata["rows_inserted"] == metadata["rows_accepted"] > 10
    assert metadata["no_data_categories"] == "fragment" and metadata["circuit_breaker"] == "none"
    assert "Divine Orb" in set(live.store().read_snapshots("Settlers")["currency"])
    assert live.server.api_requests() == 0  # the local server was never asked
