"""The live sensors against the local server, ticked as the daemon would tick them, runs executed in-process."""

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
from dagster._core.test_utils import freeze_time  # Dagster's own clock control for sensor ticks

from poeconomy_assets.core.keys import key_from_name
from poeconomy_assets.definitions import build_defs
from poeconomy_assets.defs.sensors import ingestion_sensor, new_league_sensor
from poeconomy_assets.demo.graph_runner import materialize_subset

from ..conftest import SPEC_FIXTURES, fast_client
from .conftest import TEST_PROFILE, Live

T0 = datetime(2026, 1, 5, 12, 0, 3, tzinfo=UTC)  # inside the 12:00 slot
N_ROWS = 4


def _tick(live: Live, sensor: dg.SensorDefinition, cursor: str | None, at: datetime | None = None):
    context = dg.build_sensor_context(instance=live.instance, cursor=cursor, definitions=live.defs,
                                      resources=live.defs.resources)
    # The daemon validates run requests' partition keys against the instance; so must a test tick.
    with dg.partition_loading_context(dynamic_partitions_store=live.instance):
        if at is None:
            return sensor.evaluate_tick(context)
        with freeze_time(at):
            return sensor.evaluate_tick(context)


def _execute(live: Live, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    return live.defs.resolve_job_def("ingestion_job").execute_in_process(
        instance=live.instance, partition_key=request.partition_key, run_config=request.run_config,
        tags=request.tags,
    )


def test_ingestion_sensor_one_snapshot_per_slot_skips_in_flight_and_records_no_ops(live: Live) -> None:
    # before the league is a partition the sensor waits for new_league_sensor instead of failing runs
    waiting = _tick(live, ingestion_sensor, None, T0)
    assert not waiting.run_requests and "waiting for new_league_sensor: Simulated" in waiting.skip_message
    live.instance.add_dynamic_partitions("league", ["Simulated"])

    first = _tick(live, ingestion_sensor, waiting.cursor, T0)
    (request,) = first.run_requests
    assert request.run_key == "Simulated@2026-01-05T12:00:00Z" and request.partition_key == "Simulated"
    assert json.loads(first.cursor)["leagues"] == ["Simulated"]  # Hardcore Simulated and Standard skipped
    _execute(live, request)
    # the same slot again: the same run key (the daemon launches a run key once) and nothing new stored
    again = _tick(live, ingestion_sensor, first.cursor, T0 + timedelta(seconds=90))
    assert [r.run_key for r in again.run_requests] == [request.run_key]
    assert _execute(live, again.run_requests[0]).asset_materializations_for_node("poe_watch_snapshots")[0] \
        .metadata["rows_inserted"].value == 0

    # next slot: a slow run (the server answers after 1.5 s) is in flight while the sensor ticks again
    live.server.control({"advance_seconds": 300, "fault": {"kind": "latency", "latency": 1.5, "times": 2}})
    second = _tick(live, ingestion_sensor, first.cursor, T0 + timedelta(seconds=300))
    (slow,) = second.run_requests
    runner = threading.Thread(target=_execute, args=(live, slow))
    runner.start()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        while not live.instance.get_run_records(dg.RunsFilter(job_name="ingestion_job",
                                                                statuses=[dg.DagsterRunStatus.STARTED]), limit=1):
            assert datetime.now(UTC) < deadline, "the slow run never started"
            time.sleep(0.02)  # poll, don't spin: the run's thread needs the core
        skipped = _tick(live, ingestion_sensor, second.cursor, T0 + timedelta(seconds=600))
    finally:
        runner.join()
    assert not skipped.run_requests and "is still STARTED" in skipped.skip_message

    # the run is done: the next tick asks for the 12:10 slot; the server has not recomputed, so it is a no-op
    third = _tick(live, ingestion_sensor, second.cursor, T0 + timedelta(seconds=600))
    (request,) = third.run_requests
    metadata = _execute(live, request).asset_materializations_for_node("poe_watch_snapshots")[0].metadata
    assert metadata["no_op"].value is True and metadata["rows_inserted"].value == 0

    stored = live.store().read_snapshots("Simulated")
    assert stored.height == 2 * N_ROWS  # 12:00 and 12:05; the unchanged 12:10 payload added nothing
    assert stored.select("currency", "snapshot_at").is_duplicated().sum() == 0
    assert sorted(stored["snapshot_at"].dt.strftime("%H:%M").unique().to_list()) == ["12:00", "12:05"]
    # over five ticks the /leagues list was read once and kept in the cursor (re-read every few hours)
    assert live.server.state()["requests"]["/leagues"] == 1


def test_new_league_adds_partitions_and_its_backfill_materializes(live: Live, tmp_path: Path) -> None:
    # past leagues: daily prices, features, and one trained model (training is the slow part of the graph)
    def run(job: str, partition: str, config: dict | None = None) -> None:
        assert live.defs.resolve_job_def(job).execute_in_process(
            instance=live.instance, partition_key=partition, run_config=config or {}).success

    for league in live.instance.get_dynamic_partitions("league"):
        run("daily_prices_job", league)
    for currency in ("Divine Orb", "Exalted Orb"):
        run("features_job", currency)
    run("training_job", "Divine Orb|1d", TEST_PROFILE)
    live.instance.add_dynamic_partitions("league", ["Settlers"])  # the league followed so far
    live.server.control({"leagues_file": str(SPEC_FIXTURES / "leagues.json"), "now": "2025-07-01T12:00:00Z"})
    quiet = _tick(live, new_league_sensor, None)
    assert not quiet.run_requests and "no new league; following Settlers" in quiet.skip_message

    live.server.control({"leagues_file": str(SPEC_FIXTURES / "leagues_new_league.json")})
    tick = _tick(live, new_league_sensor, quiet.cursor)
    (adds_league, adds_currency) = tick.dynamic_partitions_requests
    assert adds_league.partitions_def_name == "league" and list(adds_league.partition_keys) == ["Mercenaries"]
    # the server lists 4 currencies; the past leagues knew Divine and Exalted only
    assert sorted(adds_currency.partition_keys) == ["Chromatic Orb", "Orb of Alchemy"]
    (backfill,) = tick.run_requests
    subset = backfill.asset_graph_subset
    assert subset is not None
    wanted = {(p.asset_key.path[-1], str(p.partition_key)) for p in subset.iterate_asset_partitions()}
    assert {("poe_watch_history", "Mercenaries"), ("daily_prices", "Mercenaries"),
            ("investment_report", "Mercenaries"), ("currency_features", "Orb of Alchemy")} <= wanted
    # every currency × horizon without a model gets one (new currencies: the pooled model); the stored
    # Divine Orb 1d model is kept, not retrained; every pair is forecast
    pairs = {f"{c}|{h}" for c in ("Divine Orb", "Exalted Orb", "Orb of Alchemy", "Chromatic Orb")
             for h in ("1d", "3d", "7d")}
    assert {k for a, k in wanted if a == "price_models"} == pairs - {"Divine Orb|1d"}
    assert {k for a, k in wanted if a == "price_forecasts"} == pairs
    assert {k for a, k in wanted if a == "currency_features"} == {
        "Divine Orb", "Exalted Orb", "Orb of Alchemy", "Chromatic Orb"}

    # apply the tick as the daemon would: add the partitions, then run the backfill
    for request in tick.dynamic_partitions_requests:
        live.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    materialize_subset(live.defs, live.instance, subset, TEST_PROFILE)

    for asset in ("poe_watch_history", "daily_prices", "investment_report"):
        assert "Mercenaries" in live.instance.get_materialized_partitions(dg.AssetKey(asset)), asset
    daily = pl.read_parquet(live.home / "data" / "daily_prices" / "Mercenaries.parquet")
    assert daily["currency"].n_unique() == 4 and daily["date"].n_unique() >= 15  # 13 June to 30 June
    assert daily.select("currency", "date").is_duplicated().sum() == 0
    forecasts = pl.concat([pl.read_parquet(f) for f in (live.home / "data" / "price_forecasts").rglob("*.parquet")])
    live_forecasts = forecasts.filter(pl.col("league") == "Mercenaries")
    # the live league is forecast on every day it has (so past forecasts can be scored), for every currency
    # it lists, the two it introduced included
    assert sorted(live_forecasts["currency"].unique().to_list()) == [
        "Chromatic Orb", "Divine Orb", "Exalted Orb", "Orb of Alchemy"]
    divine_1d = live_forecasts.filter((pl.col("currency") == "Divine Orb") & (pl.col("horizon") == "1d"))
    assert divine_1d["as_of"].n_unique() == divine_1d.height >= 15
    (newcomer,) = live.instance.fetch_materializations(dg.AssetRecordsFilter(
        asset_key=dg.AssetKey("price_models"), asset_partitions=["Orb of Alchemy|1d"]), limit=1).records
    metadata = newcomer.asset_materialization.metadata
    assert metadata["scope"].value == "pooled" and "pooled model" in metadata["scope_reason"].value  # and says so
    assert "Orb of Alchemy" in live.instance.get_materialized_partitions(dg.AssetKey("currency_features"))
    assert (live.home / "reports" / "Mercenaries.html").exists()

    # the next tick launches nothing again
    after = _tick(live, new_league_sensor, tick.cursor)
    assert not after.run_requests and "no new league" in after.skip_message
    assert key_from_name("Mercenaries") in live.instance.get_dynamic_partitions("league")


def test_ingestion_sensor_skips_while_the_breaker_is_open(live: Live) -> None:
    """An open breaker: no run is queued and POE Watch is not called; once it closes, the slot is requested."""
    client = fast_client(live.server.url, live.tmp, breaker_cooldown_seconds=600.0)
    live.defs = build_defs({**live.defs.resources, "poe_watch": client})
    live.instance.add_dynamic_partitions("league", ["Simulated"])
    for _ in range(client.breaker_threshold):
        client.breaker.record_failure("HTTP 503 from /get")
    calls = live.server.api_requests()
    skipped = _tick(live, ingestion_sensor, None, T0)
    assert not skipped.run_requests
    assert "circuit breaker" in skipped.skip_message and "is open: HTTP 503 from /get" in skipped.skip_message
    assert live.server.api_requests() == calls  # not even /leagues
    client.breaker.record_success()  # what the next successful call does
    (request,) = _tick(live, ingestion_sensor, skipped.cursor, T0).run_requests
    assert request.run_key == "Simulated@2026-01-05T12:00:00Z"
