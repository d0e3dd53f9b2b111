"""The live sensors against the local server, ticked as the daemon would tick them, runs executed in-process."""

import json
import threading
import time
from pathlib import Path

import dagster as dg
import polars as pl

from poeconomy_assets.core.keys import key_from_name
from poeconomy_assets.defs.live.sensors import ingestion_sensor, new_league_sensor
from poeconomy_assets.demo.in_process import materialize_subset, ops_config

from ...conftest import SPEC_FIXTURES, fast_client
from ..conftest import TEST_PROFILE, Live

N_ROWS = 4


def _tick(live: Live, sensor: dg.SensorDefinition, cursor: str | None):
    """One tick at the server's simulated time (the live clock follows it)."""
    defs = live.defs
    context = dg.build_sensor_context(
        instance=live.instance, cursor=cursor, definitions=defs, resources=defs.resources
    )
    # The daemon validates run requests' partition keys against the instance; so must a test tick.
    with dg.partition_loading_context(dynamic_partitions_store=live.instance):
        return sensor.evaluate_tick(context)


def _execute(live: Live, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    return live.defs.resolve_job_def("ingestion_job").execute_in_process(
        instance=live.instance,
        partition_key=request.partition_key,
        run_config=request.run_config,
        tags=request.tags,
        raise_on_error=False,
    )


def _snapshots_metadata(result: dg.ExecuteInProcessResult) -> dict:
    return {
        k: v.value
        for k, v in result.asset_materializations_for_node("poe_watch_snapshots")[0].metadata.items()
    }


def _missed(request: dg.RunRequest) -> dict[str, str]:
    return request.run_config["ops"]["poe_watch_snapshots"]["config"]["missed_slots"]


def test_ingestion_sensor_hands_missed_slots_to_the_next_run_which_refills_or_records_them(
    live: Live,
) -> None:
    # POE Watch recomputes hourly (the spec): every 5-minute payload within an hour is the same
    live.server.control({"recompute_seconds": 3600, "now": "2025-06-20T12:00:03Z"})
    live.resources = {
        **live.resources,
        "poe_watch": fast_client(
            live.server.url, live.tmp, read_timeout_seconds=2.0, breaker_cooldown_seconds=60
        ),
    }
    # before the league is a partition the sensor waits for new_league_sensor instead of failing runs
    waiting = _tick(live, ingestion_sensor, None)
    assert not waiting.run_requests and "waiting for new_league_sensor: Simulated" in waiting.skip_message
    live.instance.add_dynamic_partitions("league", ["Simulated"])

    first = _tick(live, ingestion_sensor, waiting.cursor)
    (request,) = first.run_requests
    assert request.run_key == "Simulated@2025-06-20T12:00:00Z" and request.partition_key == "Simulated"
    assert json.loads(first.cursor)["leagues"] == ["Simulated"]  # Hardcore Simulated and Standard skipped
    assert _snapshots_metadata(_execute(live, request))["rows_inserted"] == N_ROWS
    # the same slot again: the same run key (the daemon launches a run key once) and nothing new stored
    again = _tick(live, ingestion_sensor, first.cursor)
    assert [r.run_key for r in again.run_requests] == [request.run_key]
    assert _snapshots_metadata(_execute(live, again.run_requests[0]))["rows_inserted"] == 0

    # 12:05: a slow run (the server answers after 1.5 s) is in flight when the 12:10 tick comes
    live.server.control({"advance_seconds": 300, "fault": {"kind": "latency", "latency": 1.5, "times": 2}})
    second = _tick(live, ingestion_sensor, first.cursor)
    (slow,) = second.run_requests
    runner = threading.Thread(target=_execute, args=(live, slow))
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while not live.instance.get_run_records(
            dg.RunsFilter(job_name="ingestion_job", statuses=[dg.DagsterRunStatus.STARTED]), limit=1
        ):
            assert time.monotonic() < deadline, "the slow run never started"
            time.sleep(0.05)
        live.server.control({"advance_seconds": 300})
        skipped = _tick(live, ingestion_sensor, second.cursor)
    finally:
        runner.join()
    assert not skipped.run_requests and "was still STARTED" in skipped.skip_message

    # 12:15: the run of this slot fails (every /get answers 500): nothing stored, the sensor learns why
    live.server.control({"advance_seconds": 300, "fault": {"kind": "500", "times": 3}})
    third = _tick(live, ingestion_sensor, skipped.cursor)
    (failing,) = third.run_requests
    assert (
        list(_missed(failing)) == ["2025-06-20T12:10:00Z"]
        and "still STARTED" in _missed(failing)["2025-06-20T12:10:00Z"]
    )
    assert not _execute(live, failing).success
    # 12:20: the next run carries both missed slots, with their reasons, and refills them: the payload it
    # fetches is the one in effect at 12:10 and 12:15 (POE Watch did not recompute in between)
    live.server.control({"advance_seconds": 300})
    fourth = _tick(live, ingestion_sensor, third.cursor)
    (catch_up,) = fourth.run_requests
    missed = _missed(catch_up)
    assert list(missed) == ["2025-06-20T12:10:00Z", "2025-06-20T12:15:00Z"]
    assert "failure" in missed["2025-06-20T12:15:00Z"] and "HTTP 500" in missed["2025-06-20T12:15:00Z"]
    view = _snapshots_metadata(_execute(live, catch_up))
    assert sorted(view["refilled_slots"]) == list(missed) and view["lost_slots"] == {}
    assert (
        view["slots_expected_24h"],
        view["slots_stored_24h"],
        view["slots_refilled_24h"],
        view["slots_lost_24h"],
    ) == (5, 3, 2, 0)  # 12:00 12:05 12:20 stored (12:05 and 12:20: unchanged)

    # 12:25: the circuit breaker is open, so the tick skips and says so
    live.server.control({"advance_seconds": 300})
    breaker = live.resources["poe_watch"].breaker
    for _ in range(5):
        breaker.record_failure("HTTP 503 (test)")
    open_tick = _tick(live, ingestion_sensor, fourth.cursor)
    assert not open_tick.run_requests and "circuit breaker open" in open_tick.skip_message
    breaker.record_success()
    # 13:05: no tick between 12:30 and 13:00 (the daemon was down), and POE Watch recomputed at 13:00: the
    # missed slots cannot be refilled any more and are recorded as lost, each with its reason
    live.server.control({"now": "2025-06-20T13:05:03Z"})
    fifth = _tick(live, ingestion_sensor, open_tick.cursor)
    (late,) = fifth.run_requests
    view = _snapshots_metadata(_execute(live, late))
    lost = view["lost_slots"]
    assert len(lost) == 8 and "circuit breaker open" in lost["2025-06-20T12:25:00Z"]
    assert (
        "no sensor tick" in lost["2025-06-20T12:30:00Z"]
        and "changed its currency prices" in lost["2025-06-20T13:00:00Z"]
    )
    assert (
        view["slots_expected_24h"],
        view["slots_stored_24h"],
        view["slots_refilled_24h"],
        view["slots_lost_24h"],
    ) == (14, 4, 2, 8)
    assert "2025-06-20T12:25:00Z" in view["lost_slots_24h"] and view["circuit_breaker"] == "closed"

    stored = live.store().read_snapshots("Simulated")
    assert stored.select("currency", "snapshot_at").is_duplicated().sum() == 0
    # one row per currency for each payload POE Watch changed: 12:00 and 13:05
    assert sorted(stored["snapshot_at"].dt.strftime("%H:%M").unique().to_list()) == ["12:00", "13:05"]
    # over all these ticks the /leagues list was read once and kept in the cursor (re-read every few hours)
    assert live.server.state()["requests"]["/leagues"] == 1


def test_new_league_adds_partitions_and_its_backfill_materializes(live: Live, tmp_path: Path) -> None:
    # past leagues: daily prices, features, and one trained model (training is the slow part of the graph)
    def run(job: str, partition: str, config: dict | None = None) -> None:
        job_def = live.defs.resolve_job_def(job)
        assert job_def.execute_in_process(
            instance=live.instance, partition_key=partition, run_config=ops_config(job_def, config)
        ).success

    for league in live.instance.get_dynamic_partitions("league"):
        run("daily_prices_job", league)
    for currency in ("Divine Orb", "Exalted Orb"):
        run("features_job", currency)
    run("pooled_model_job", "1d", TEST_PROFILE)
    run("model_job", "Divine Orb|1d", TEST_PROFILE)
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
    assert {
        ("poe_watch_history", "Mercenaries"),
        ("daily_prices", "Mercenaries"),
        ("investment_report", "Mercenaries"),
        ("currency_features", "Orb of Alchemy"),
    } <= wanted
    # every currency × horizon without a model gets one (new currencies: the pooled model); the stored
    # Divine Orb 1d model is kept, not retrained; every pair is forecast
    pairs = {
        f"{c}|{h}"
        for c in ("Divine Orb", "Exalted Orb", "Orb of Alchemy", "Chromatic Orb")
        for h in ("1d", "3d", "7d")
    }
    assert {k for a, k in wanted if a == "price_models"} == pairs - {"Divine Orb|1d"}
    assert {k for a, k in wanted if a == "price_forecasts"} == pairs
    assert {k for a, k in wanted if a == "pooled_models"} == {"3d", "7d"}  # the stored 1d one serves
    assert {k for a, k in wanted if a == "currency_features"} == {
        "Divine Orb",
        "Exalted Orb",
        "Orb of Alchemy",
        "Chromatic Orb",
    }

    # apply the tick as the daemon would: add the partitions, then run the backfill
    for request in tick.dynamic_partitions_requests:
        live.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    materialize_subset(live.defs, live.instance, subset)  # the training_settings resource: the test profile

    for asset in ("poe_watch_history", "daily_prices", "investment_report"):
        assert "Mercenaries" in live.instance.get_materialized_partitions(dg.AssetKey(asset)), asset
    daily = pl.read_parquet(live.home / "data" / "daily_prices" / "Mercenaries.parquet")
    assert daily["currency"].n_unique() == 4 and daily["date"].n_unique() >= 15  # 13 June to 30 June
    assert daily.select("currency", "date").is_duplicated().sum() == 0
    forecasts = pl.concat(
        [pl.read_parquet(f) for f in (live.home / "data" / "price_forecasts").rglob("*.parquet")]
    )
    live_forecasts = forecasts.filter(pl.col("league") == "Mercenaries")
    # the live league is forecast on every day it has (so past forecasts can be scored), for every currency
    # it lists, the two it introduced included
    assert sorted(live_forecasts["currency"].unique().to_list()) == [
        "Chromatic Orb",
        "Divine Orb",
        "Exalted Orb",
        "Orb of Alchemy",
    ]
    divine_1d = live_forecasts.filter((pl.col("currency") == "Divine Orb") & (pl.col("horizon") == "1d"))
    assert divine_1d["as_of"].n_unique() == divine_1d.height >= 15
    (newcomer,) = live.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("price_models"), asset_partitions=["Orb of Alchemy|1d"]),
        limit=1,
    ).records
    metadata = newcomer.asset_materialization.metadata
    assert (
        metadata["scope"].value == "pooled" and "pooled model" in metadata["scope_reason"].value
    )  # and says so
    assert "Orb of Alchemy" in live.instance.get_materialized_partitions(dg.AssetKey("currency_features"))
    assert (live.home / "reports" / "Mercenaries.html").exists()

    # the next tick launches nothing again
    after = _tick(live, new_league_sensor, tick.cursor)
    assert not after.run_requests and "no new league" in after.skip_message
    assert key_from_name("Mercenaries") in live.instance.get_dynamic_partitions("league")


def test_ingestion_sensor_skips_while_the_breaker_is_open(live: Live) -> None:
    """An open breaker: no run is queued and POE Watch is not called; once it closes, the slot is requested."""
    client = fast_client(live.server.url, live.tmp, breaker_cooldown_seconds=600.0)
    live.resources = {**live.resources, "poe_watch": client}
    live.instance.add_dynamic_partitions("league", ["Simulated"])
    live.server.control({"now": "2026-01-05T12:00:03Z"})
    for _ in range(client.breaker_threshold):
        client.breaker.record_failure("HTTP 503 from /get")
    calls = live.server.api_requests()
    skipped = _tick(live, ingestion_sensor, None)
    assert not skipped.run_requests
    assert "circuit breaker open (HTTP 503 from /get)" in skipped.skip_message
    assert live.server.api_requests() == calls  # not even /leagues
    client.breaker.record_success()  # what the next successful call does
    (request,) = _tick(live, ingestion_sensor, skipped.cursor).run_requests
    assert request.run_key == "Simulated@2026-01-05T12:00:00Z"
