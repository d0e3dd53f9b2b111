"""Live operation under the real daemon: a compressed simulated hour of 5-minute slots while a training backfill
keeps the batch lane full and the API fails on purpose.

What runs: ``dagster-daemon run`` on a temporary instance whose run queue is the repo's ``dagster.yaml`` (two lanes,
ingestion priority), the code location from ``workspace.yaml`` with ``ingestion_sensor`` on, the local POE Watch
server, and a run of ``training_job`` (a model and its forecasts) for every currency × horizon launched over GraphQL
once ``dagster dev`` is up (one run per partition, as a user launching them one by one from the UI: a job backfill
of a multi-partitioned job is dagster-io/dagster#28861, refused by the assets). The training pool has 2 slots
(``dagster instance concurrency set training 2``, as the README's "Retrain everything" says; at the yaml's default
of 1 the pool lets one training run start at a time and the lane is never full), and the past market has 32
currencies, so the backfill is 96 runs: more than the batch lane gets through before the hour is accounted for.
Guards (without them the test proves nothing): from the first snapshot to the end some training run was always
waiting for the batch lane, and training runs ran two at a time. Then: every ingestion run of the hour ran beside
two training runs holding both batch slots (impossible when ingestion shares their lane, or when the instance has no
run slot beyond the batch lane's; both checked to fail) and ingestion overtook training queued before it.

The live clock is *stepped* (``LiveClock.stepped``: every process reads the simulated time from one file) and the
server's clock is set with it (speed 0). The test moves both to the next slot only once the current one has been
handled, that is once the ingestion sensor has finished a tick that began after the step (read over GraphQL, as the
UI reads it) and the run it requested for the slot, if any, has finished. Nothing races the wall clock, so a loaded
machine makes the test slower, never different (on a stepped clock the sensor's minimum interval is 2 s: the daemon
ticks it on every pass, every 5 s). Each slot is visited at one simulated moment, 30 s into it, except the slot
whose run opens the circuit breaker, visited 4 minutes into it (a run that retried fetches late in its slot), so the
next slot's tick falls inside the breaker's one-slot cool-down (measured on the live clock). Before the hour the
clock stands a week earlier, before the league started, so nothing is ingested until every training run is queued.

The hour, from 12:10 (the first snapshot): 5 HTTP 500s on ``/get`` are injected before 12:15, so the 12:15 run fails
after its 4 attempts and the 12:20 run fails on its first, the 5th failure in a row, which opens the circuit
breaker; the 12:25 tick skips while it is open; the 12:30 run closes it and refills the three missed slots (POE
Watch has not recomputed since 12:10). 4 more 500s before 12:55 fail that slot's run, and the 13:00 run cannot
refill it: POE Watch recomputes hourly and did at 13:00, so 12:55 is lost. Checked: every slot of the hour is
stored, refilled or lost with its reason, exactly as planned; the failed runs and the open breaker are named; a
missed slot is lost exactly when POE Watch recomputed between the snapshot stored before it and the fetch of the run
it was handed to, else refilled. The deadlines (10 minutes per slot) are a safety net for broken daemons, never what
decides on a slow machine; measured times are in docs/testing.md ("How the cadence guarantees are tested").

The second test runs ``drift_sensor`` the same way: started with ``dagster sensor start``, ticked by the daemon.
"""

import json
import os
import shutil
import signal
import statistics
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from poeconomy_assets.core.ingest.live_prices import parse_slot, slot_key
from poeconomy_assets.core.ingest.slot_accounting import SlotAccount, account
from poeconomy_assets.core.schemas import HORIZONS
from poeconomy_assets.definitions import build_defs
from poeconomy_assets.defs.live.slot_ledger import queue_window, slot_reports, slot_run
from poeconomy_assets.defs.resources import build_resources
from poeconomy_assets.defs.scorecards import DRIFT_CHECK_KEY
from poeconomy_assets.demo.dagster_dev import DagsterDev
from poeconomy_assets.resources.live_clock import LiveClock
from poeconomy_assets.sim.live_market import SimulatedMarket
from poeconomy_assets.sim.poe_watch_server import PoeWatchServer
from poeconomy_assets.sim.simulator import SimulationConfig, write_dumps

from .conftest import LIVE_PAST

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("VIRTUAL_ENV") or REPO / ".venv") / "bin"
# Simulated time of the first slot; the clock stands at BEFORE (the league has not started) until the training
# runs are queued. POE Watch recomputes hourly, so 13:00 falls in the middle of the hour under test.
START = datetime(2025, 6, 20, 12, 10, tzinfo=UTC)
BEFORE = datetime(2025, 6, 13, 12, 0, tzinfo=UTC)
HOUR = 12  # slots in the simulated hour under test, 12:10 to 13:05
RECOMPUTE_SECONDS = 3600  # the local POE Watch recomputes its prices hourly, like the real one
FAULTS = {1: 5, 9: 4}  # slot index (12:15, 12:55) -> HTTP 500s on /get injected just before stepping to it
OPENS_BREAKER = 2  # 12:20: its run's first attempt is the 5th failure in a row
STEP_TIMEOUT = (
    600.0  # per slot, a safety net: a tick takes seconds, an ingestion run well under a minute loaded
)
# The past market: 32 currencies, so the training backfill is 96 runs, more than the test ever gets through (at
# most about 30 finish by the end on this 2-core machine).
PAST = SimulationConfig(n_leagues=3, n_currencies=32, seed=13, min_days=30, max_days=32)
pytestmark = pytest.mark.daemon


def _dagster_yaml(home: Path) -> str:
    """The repo's dagster.yaml (its run queue unchanged), storage in ``home``, the queue polled every second."""
    text = (REPO / "dagster.yaml").read_text().replace(".poeconomy/dagster", str(home))
    return (
        text + "run_coordinator:\n  module: dagster._core.run_coordinator\n  class: QueuedRunCoordinator\n"
        "  config:\n    dequeue_interval_seconds: 1\n"
    )


# A shell that starts `cmd &` ignores SIGINT in it, and dagster copies that onto SIGTERM: reset both, then exec.
WRAPPER = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "signal.signal(signal.SIGTERM, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"
)


def _start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "python"), "-c", WRAPPER, *args],
        env=env,
        cwd=REPO,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait(
    daemon: subprocess.Popen,
    log: Path,
    done: Callable[[], bool],
    failure: Callable[[], str],
    timeout: float = 600.0,
) -> None:
    """Call ``done`` every second until it is true, while the daemon runs; at most ``timeout`` seconds (a safety
    net for a daemon that never gets there: loaded machines only make it slower)."""
    deadline = time.monotonic() + timeout
    while not done():
        assert daemon.poll() is None, log.read_text()[-3000:]
        if time.monotonic() > deadline:
            pytest.fail(f"{failure()}; daemon log:\n" + log.read_text()[-3000:])
        time.sleep(1)


# The ingestion sensor's finished ticks that began after a wall time (the Dagster GraphQL API, as the UI reads them).
SENSOR_TICKS = """
query Ticks($selector: SensorSelector!, $after: Float) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor {
      sensorState { ticks(afterTimestamp: $after, statuses: [SUCCESS, SKIPPED], limit: 5) { timestamp status } }
    }
  }
}
"""
INGESTION_SENSOR = {
    "repositoryLocationName": "poeconomy_assets",
    "repositoryName": "__repository__",
    "sensorName": "ingestion_sensor",
}


def _ticked_since(dev: DagsterDev, moment: float) -> bool:
    """Whether ingestion_sensor finished a tick that began after ``moment`` (so it read the clock after it)."""
    found = dev.graphql(SENSOR_TICKS, {"selector": INGESTION_SENSOR, "after": moment})["sensorOrError"]
    assert found["__typename"] == "Sensor", found
    return bool(found["sensorState"]["ticks"])


def _moment(index: int) -> datetime:
    """The simulated moment slot ``index`` of the hour is visited at (see the module docstring)."""
    return START + timedelta(minutes=5 * index, seconds=240 if index == OPENS_BREAKER else 30)


def _unreported(reports: list, first: datetime) -> list[str]:
    """Slots of the hour after ``first`` that no run has reported on yet."""
    day = account(reports, first + timedelta(minutes=5 * HOUR), first)  # one slot past the hour: all counted
    hour = {slot_key(first + timedelta(minutes=5 * i)) for i in range(HOUR)}
    return [s for s, why in day.lost.items() if s in hour and why.startswith("no run reported")]


def _past_graph(
    tmp_path: Path, past: SimulationConfig
) -> tuple[Path, Path, Path, dg.Definitions, dg.DagsterInstance]:
    """A temporary instance (the repo's run queue) with the past leagues imported, their daily prices, every
    currency's features and the three pooled models (what training reads): (home, dumps, DAGSTER_HOME, defs,
    instance)."""
    if not (BIN / "dagster-daemon").exists():
        pytest.skip(f"dagster-daemon not found in {BIN}")
    home, dumps, dagster_home = tmp_path / "home", tmp_path / "dumps", tmp_path / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(_dagster_yaml(dagster_home))
    write_dumps(past, dumps)
    defs = build_defs(build_resources(home, dumps))
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    for job, partitions in (("history_job", [None]), ("daily_prices_job", None), ("features_job", None)):
        if partitions is None:
            partitions = instance.get_dynamic_partitions(
                "league" if job == "daily_prices_job" else "currency"
            )
        for partition in partitions:
            assert (
                defs.resolve_job_def(job)
                .execute_in_process(instance=instance, partition_key=partition)
                .success
            )
    for horizon in HORIZONS:  # every currency's model is built from its horizon's pooled one
        assert (
            defs.resolve_job_def("pooled_model_job")
            .execute_in_process(
                instance=instance,
                partition_key=horizon,
                run_config={"ops": {"pooled_models": {"config": {"profile": "test"}}}},
            )
            .success
        )
    for horizon in HORIZONS:  # the (still empty) pooled calibration the forecasts of training_job read
        assert (
            defs.resolve_job_def("calibration_job")
            .execute_in_process(instance=instance, partition_key=horizon)
            .success
        )
    return home, dumps, dagster_home, defs, instance


def test_daemon_keeps_every_slot_of_a_simulated_hour_while_training_fills_the_queue(tmp_path: Path) -> None:
    home, dumps, dagster_home, _, instance = _past_graph(tmp_path, PAST)
    # The followed league registered (new_league_sensor has nothing to do).
    instance.add_dynamic_partitions("league", ["Simulated"])
    instance.event_log_storage.set_concurrency_slots("training", 2)
    training = [f"{c}|{h}" for c in instance.get_dynamic_partitions("currency") for h in HORIZONS]

    market = SimulatedMarket(n_currencies=4, seed=5, recompute_seconds=RECOMPUTE_SECONDS)
    clock = LiveClock.stepped(
        tmp_path / "live_clock", BEFORE
    )  # the league has not started: nothing to ingest
    log = tmp_path / "daemon.log"
    with PoeWatchServer(market, now=BEFORE, speed=0) as server:
        env = {
            **os.environ,
            "DAGSTER_HOME": str(dagster_home),
            "POECONOMY_HOME": str(home),
            "POECONOMY_DUMPS_DIR": str(dumps),
            "POECONOMY_POE_WATCH_URL": server.url,
            "POECONOMY_LIVE_CLOCK": json.dumps({"file": clock.file}),
        }
        dev = DagsterDev(dagster_home, env, log_path=log).__enter__()
        daemon = dev.process
        try:
            for key in training:  # the batch lane's load: one queued training_job run per partition
                currency, horizon = key.split("|")
                dev.launch_run(
                    "training_job",
                    tags={
                        "dagster/partition": key,
                        "dagster/partition/currency": currency,
                        "dagster/partition/horizon": horizon,
                        "poeconomy/lane": "batch",
                    },
                )
            for index in range(HOUR):  # one step per slot, each taken once the slot before it was handled
                slot = slot_key(START + timedelta(minutes=5 * index))
                if index in FAULTS:
                    server.control({"fault": {"kind": "500", "times": FAULTS[index], "path": "/get"}})
                at = _moment(index)
                server.control(
                    {"now": at.isoformat()}
                )  # the server first: a tick on the new time finds it there
                clock.step_to(at)
                stepped = time.time()
                _wait(
                    daemon,
                    log,
                    lambda stepped=stepped: _ticked_since(dev, stepped),
                    lambda slot=slot: f"ingestion_sensor never ticked in slot {slot}",
                    STEP_TIMEOUT,
                )
                _wait(
                    daemon,
                    log,
                    lambda slot=slot: (
                        (run := slot_run(instance, "Simulated", slot)) is None or run.is_finished
                    ),
                    lambda slot=slot: f"the ingestion run of slot {slot} did not finish",
                    STEP_TIMEOUT,
                )
        finally:
            dev.stop()

    # every slot of the hour: stored, refilled, or lost with its reason, as planned
    reports, first = slot_reports(instance, "Simulated")
    hour = [slot_key(START + timedelta(minutes=5 * i)) for i in range(HOUR)]
    assert first == hour[0], (first, [r.stored for r in reports])
    assert not _unreported(reports, START)
    everything = account(reports, START + timedelta(minutes=5 * HOUR), START)
    day = SlotAccount(
        hour,
        [s for s in everything.stored if s in hour],
        {s: why for s, why in everything.refilled.items() if s in hour},
        {s: why for s, why in everything.lost.items() if s in hour},
    )
    print(
        f"\nslots of the hour: {day.summary()}; stored {day.stored}; refilled {day.refilled}; lost {day.lost}"
    )
    assert set(day.stored) | set(day.refilled) | set(day.lost) == set(hour)
    assert all(reason.strip() for reason in [*day.refilled.values(), *day.lost.values()])
    at = {i: hour[i] for i in (1, 2, 3, 9)}  # 12:15, 12:20, 12:25, 12:55
    assert sorted(day.refilled) == [at[1], at[2], at[3]], day.summary()
    assert sorted(day.lost) == [at[9]], day.summary()
    assert day.stored == [s for s in hour if s not in at.values()], day.summary()
    # the runs that met the injected 500s and the open breaker are named as the reasons of their slots
    assert "HTTP 500" in day.refilled[at[1]] and "HTTP 500" in day.lost[at[9]], (day.refilled, day.lost)
    assert "circuit breaker" in day.refilled[at[2]], day.refilled  # its run opened it
    assert "skipped: circuit breaker open" in day.refilled[at[3]], day.refilled  # the tick skipped while open
    handed = {
        s: (why, r.stored) for r in reports for s, why in [*r.refilled.items(), *r.lost.items()] if s in hour
    }

    # A slot handed to a later run is lost exactly when POE Watch recomputed between the snapshot stored before it
    # and that run's fetch (a recompute hour H with stored-before < H <= the run's slot), else refilled.
    def recomputed_between(before: str, after: str) -> bool:
        return (
            parse_slot(before).timestamp() // RECOMPUTE_SECONDS
            < parse_slot(after).timestamp() // RECOMPUTE_SECONDS
        )

    all_stored = sorted({r.stored for r in reports})
    for slot, (why, by) in handed.items():
        before = max(s for s in all_stored if s < slot)
        assert (slot in day.lost) == recomputed_between(before, by), (slot, why, before, by)
        assert ("changed its" in why) == (slot in day.lost), (slot, why)
    # ingestion never waited behind training: it left the queue within seconds, while training runs queued
    # before it waited for a batch slot; ingestion runs were launched while training held both batch slots.
    ended_at = time.time()

    def queued(job: str) -> list[tuple[float, float, float]]:  # (enqueued, launched, ended); inf: not yet
        out = []
        for record in instance.get_run_records(filters=dg.RunsFilter(job_name=job)):
            run_id = record.dagster_run.run_id
            window = queue_window(instance, run_id)
            if window is None:  # still queued when the daemon stopped
                enqueued = instance.get_records_for_run(
                    run_id, of_type=dg.DagsterEventType.RUN_ENQUEUED
                ).records
                window = (enqueued[0].timestamp, float("inf"))
            out.append((*window, record.end_time or float("inf")))
        return out

    def waited(runs: list[tuple[float, float, float]]) -> list[float]:
        return sorted(round(min(launched, ended_at) - enqueued, 1) for enqueued, launched, _ in runs)

    def training_at(moment: float) -> int:  # training runs holding a batch slot at that moment
        return sum(launched <= moment < ended for _, launched, ended in trainings)

    def beside(
        run: tuple[float, float, float],
    ) -> int:  # most training runs in progress at once while run ran
        return max(training_at(m) for m in [run[1], *(t[1] for t in trainings if run[1] < t[1] < run[2])])

    ingestion, trainings = sorted(queued("ingestion_job")), queued("training_job")
    assert len(trainings) == len(training) and len(ingestion) >= 3
    ingestion_delays, training_delays = waited(ingestion), waited(trainings)
    # The load: from the first snapshot to the end, some training run was always waiting for the batch lane (the
    # count changes only when a run is enqueued or launched), and training runs ran two at a time.
    hour_began = ingestion[0][2]
    moments = sorted({hour_began, *(m for t in trainings for m in t[:2] if hour_began < m < ended_at)})
    drained = [m for m in moments if not any(enqueued <= m < launched for enqueued, launched, _ in trainings)]
    paired = [
        t for t in trainings if hour_began <= t[1] < ended_at and training_at(t[1]) == 2
    ]  # beside another
    alone = [i for i in ingestion[1:] if beside(i) < 2]  # the runs after the first snapshot
    jumped = [(i, t) for i in ingestion for t in trainings if t[0] < i[0] and i[1] < t[1]]
    print(
        f"\ningestion queue delays (s) {ingestion_delays}\n"
        f"most training runs in progress at once beside each ingestion run: {[beside(i) for i in ingestion]}\n"
        f"training runs finished {sum(t[2] < ended_at for t in trainings)} (run time (s), median "
        f"{statistics.median(t[2] - t[1] for t in trainings if t[2] < ended_at):.1f})"
        f", still queued at the end {sum(t[1] == float('inf') for t in trainings)} of {len(trainings)}; queue delays "
        f"(s, to the end of the test when still queued) {training_delays}\n{len(jumped)} (ingestion, training) "
        "pairs where ingestion overtook a training run queued before it"
    )
    assert not drained, (
        f"no training run waited for the batch lane {round(drained[0] - hour_began, 1)} s into "
        "the hour (the backfill drained): the test proves nothing"
    )
    assert paired, (
        "training never held both batch slots during the hour (one training run at a time: the "
        "`training` pool's limit?): the test proves nothing"
    )
    # In a shared lane an ingestion run can only start once a training run has ended, and no other starts before it
    # ends: it never runs beside two of them, so not one would. In the ingestion lane, a short ingestion run launched
    # in the second between a training run's end and the queue's next dequeue (dequeue_interval_seconds: 1) can
    # also see one training run only: measured 1 of 10 in 2 of 5 runs once run processes started faster (the code
    # location no longer imports the model libraries). At most a quarter may, and most must run beside two.
    assert len(alone) <= (len(ingestion) - 1) // 4, (
        f"{len(alone)} of {len(ingestion) - 1} ingestion runs of the hour never ran beside two "
        "training runs: ingestion takes a batch slot"
    )
    assert jumped, "no ingestion run ever overtook a training run queued before it"
    assert ingestion_delays[-1] < training_delays[-1]
    # and it never queued behind the training backlog: its longest wait is shorter than a typical training run's
    # (a comparison, not a number of seconds, so load that slows everything does not decide it; that it never
    # waited for a batch slot either is what `alone` checks)
    typical = statistics.median(training_delays)
    assert ingestion_delays[-1] < typical, f"an ingestion run waited {ingestion_delays[-1]} s ({typical} s)"
    runs = instance.get_run_records(filters=dg.RunsFilter(job_name="ingestion_job"))
    assert all(r.dagster_run.tags.get("dagster/priority") == "10" for r in runs)
    shutil.rmtree(dagster_home / "compute_logs", ignore_errors=True)


def test_drift_sensor_under_the_daemon_retrains_exactly_the_drifting_models(tmp_path: Path) -> None:
    """drift_sensor as a user runs it: started with ``dagster sensor start``, ticked by the daemon, its runs
    queued in the batch lane and executed by run workers. (``weekly_retrain_sensor`` is not shown this way: it
    waits for a Monday on the live clock; test_retraining.py evaluates its tick and executes the backfill it asks for.)"""
    home, dumps, dagster_home, defs, instance = _past_graph(tmp_path, LIVE_PAST)
    trained = [f"{c}|{h}" for c in instance.get_dynamic_partitions("currency") for h in HORIZONS]
    for key in trained:  # every model trained once, in process
        assert (
            defs.resolve_job_def("model_job").execute_in_process(instance=instance, partition_key=key).success
        )
    for horizon in HORIZONS:  # and its horizon's calibration, which the drift runs' forecasts read
        assert (
            defs.resolve_job_def("calibration_job")
            .execute_in_process(instance=instance, partition_key=horizon)
            .success
        )

    def trainings() -> dict[str, int]:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("price_models")), limit=1000
        ).records
        return {key: sum(r.partition_key == key for r in records) for key in trained}

    before = trainings()
    drifting = [trained[-1], trained[1]]
    # what forecast_scorecard's drift check records when it fails (test_drift.py checks that it does)
    instance.report_runless_asset_event(
        dg.AssetCheckEvaluation(
            asset_key=DRIFT_CHECK_KEY.asset_key,
            check_name=DRIFT_CHECK_KEY.name,
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"drifting_partitions": dg.MetadataValue.json(drifting)},
        )
    )
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "POECONOMY_HOME": str(home),
        "POECONOMY_DUMPS_DIR": str(dumps),
    }
    env.pop("POECONOMY_POE_WATCH_URL", None)  # the live sensors stay stopped
    workspace = ["-w", str(REPO / "workspace.yaml"), "-l", "poeconomy_assets"]
    subprocess.run(
        [str(BIN / "dagster"), "sensor", "start", "drift_sensor", *workspace],
        env=env,
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=300,
    )
    daemon = _start(
        [str(BIN / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")], env, tmp_path / "daemon.log"
    )
    drift_runs = dg.RunsFilter(job_name="training_job", tags={"poeconomy/trigger": "drift"})

    def runs() -> list[dg.DagsterRun]:
        return [r.dagster_run for r in instance.get_run_records(filters=drift_runs)]

    try:
        _wait(
            daemon,
            tmp_path / "daemon.log",
            lambda: len(runs()) >= len(drifting) and all(r.is_finished for r in runs()),
            lambda: f"drift runs not finished: {[(r.run_id, r.status) for r in runs()]}",
        )
    finally:
        _stop(daemon)

    retrained = runs()
    assert sorted(r.tags["dagster/partition"] for r in retrained) == sorted(drifting)
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in retrained), [
        (r.run_id, r.status) for r in retrained
    ]
    assert all(r.tags["poeconomy/lane"] == "batch" for r in retrained)  # queued in the batch lane
    after = trainings()
    assert {key for key in trained if after[key] > before[key]} == set(drifting)  # those two, nothing else
    assert all(after[key] == before[key] + 1 for key in drifting)  # once each
    shutil.rmtree(dagster_home / "compute_logs", ignore_errors=True)
