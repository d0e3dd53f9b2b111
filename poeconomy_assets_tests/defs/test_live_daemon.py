"""Live operation under the real daemon: a compressed simulated hour of 5-minute slots while a training backfill
fills the batch lane and the API fails on purpose.

What runs: ``dagster-daemon run`` on a temporary instance whose run queue is the repo's ``dagster.yaml`` (two lanes,
ingestion priority), the code location from ``workspace.yaml`` with ``ingestion_sensor`` on, the local POE Watch
server, and a ``dagster job backfill`` of every ``training_job`` partition launched as the daemon starts. The live
clock and the server run 120× faster than real time (one 5-minute slot every 2.5 s; the daemon ticks a sensor at
most every 5 s), so every ingestion run is "late" by several slots: those slots are handed to the next run and
refilled or recorded as lost with their reason, which is exactly the path this test is about. It needs about
three ingestion runs after setup (the first snapshot, the failing run, the run that refills): 5 min 54 s at a
load average of ~27 on the shared 2-core machine, where a run's process spends over a minute importing the code
(the deadline is 10 minutes). What it checks does not depend on speed.
"""

import json
import os
import shutil
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from poeconomy_assets.core.ingest.live_prices import parse_slot, slot_key
from poeconomy_assets.core.ingest.slot_accounting import SlotAccount, account
from poeconomy_assets.definitions import build_defs
from poeconomy_assets.defs.resources import build_resources
from poeconomy_assets.defs.slot_ledger import queue_window, slot_reports
from poeconomy_assets.sim.live_market import SimulatedMarket
from poeconomy_assets.sim.poe_watch_server import PoeWatchServer
from poeconomy_assets.sim.simulator import write_dumps

from .conftest import LIVE_PAST

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("VIRTUAL_ENV") or REPO / ".venv") / "bin"
SPEED = 120.0  # simulated seconds per real second: a 5-minute slot every 2.5 s, the simulated hour in 30 s
START = datetime(2025, 6, 20, 11, 50, tzinfo=UTC)  # simulated time when the daemon is launched
HOUR = 12  # slots in the simulated hour under test
pytestmark = pytest.mark.daemon


def _dagster_yaml(home: Path) -> str:
    """The repo's dagster.yaml (its run queue unchanged), storage in ``home``, the queue polled every second."""
    text = (REPO / "dagster.yaml").read_text().replace(".poeconomy/dagster", str(home))
    return text + "run_coordinator:\n  module: dagster._core.run_coordinator\n  class: QueuedRunCoordinator\n" \
                  "  config:\n    dequeue_interval_seconds: 1\n"


# A shell that starts `cmd &` ignores SIGINT in it, and dagster copies that onto SIGTERM: reset both, then exec.
WRAPPER = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
           "signal.signal(signal.SIGTERM, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])")


def _start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "python"), "-c", WRAPPER, *args], env=env, cwd=REPO, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _unreported(reports: list, first: datetime) -> list[str]:
    """Slots of the hour after ``first`` that no run has reported on yet."""
    day = account(reports, first + timedelta(minutes=5 * HOUR), first)  # one slot past the hour: all counted
    hour = {slot_key(first + timedelta(minutes=5 * i)) for i in range(HOUR)}
    return [s for s, why in day.lost.items() if s in hour and why.startswith("no run reported")]


@pytest.mark.skip(reason="since pooled_models became its own asset (issue 12), each training run is short and no "
                  "longer fills the batch lane, so this test cannot show ingestion overtaking training; it must "
                  "launch heavier training before it runs again (issue 13 stays open for it)")
def test_daemon_keeps_every_slot_of_a_simulated_hour_while_training_fills_the_queue(tmp_path: Path) -> None:
    if not (BIN / "dagster-daemon").exists():
        pytest.skip(f"dagster-daemon not found in {BIN}")
    home, dumps, dagster_home = tmp_path / "home", tmp_path / "dumps", tmp_path / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(_dagster_yaml(dagster_home))
    write_dumps(LIVE_PAST, dumps)
    # Past leagues in, and the followed league registered (new_league_sensor has nothing to do).
    defs = build_defs(build_resources(home, dumps))
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    for job, partitions in (("history_job", [None]), ("daily_prices_job", None), ("features_job", None)):
        if partitions is None:
            partitions = instance.get_dynamic_partitions("league" if job == "daily_prices_job" else "currency")
        for partition in partitions:
            assert defs.resolve_job_def(job).execute_in_process(instance=instance, partition_key=partition).success
    for horizon in ("1d", "3d", "7d"):  # the training backfill builds every model from its horizon's pooled one
        assert defs.resolve_job_def("pooled_model_job").execute_in_process(
            instance=instance, partition_key=horizon,
            run_config={"ops": {"pooled_models": {"config": {"profile": "test"}}}}).success
    instance.add_dynamic_partitions("league", ["Simulated"])
    training = [f"{c}|{h}" for c in instance.get_dynamic_partitions("currency") for h in ("1d", "3d", "7d")]

    market = SimulatedMarket(n_currencies=4, seed=5, recompute_seconds=3600)  # POE Watch: about hourly
    with PoeWatchServer(market, now=START, speed=SPEED) as server:
        clock = {"simulated_start": START.isoformat(), "wall_start": time.time(), "speed": SPEED}
        env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "POECONOMY_HOME": str(home),
               "POECONOMY_DUMPS_DIR": str(dumps), "POECONOMY_POE_WATCH_URL": server.url,
               "POECONOMY_LIVE_CLOCK": json.dumps(clock)}
        daemon = _start([str(BIN / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")], env,
                        tmp_path / "daemon.log")
        backfill = _start([str(BIN / "dagster"), "job", "backfill", "-w", str(REPO / "workspace.yaml"), "-l",
                           "poeconomy_assets", "-j", "training_job", "--partitions", ",".join(training),
                           "--noprompt"], env, tmp_path / "backfill.log")
        try:
            first = None
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                reports, _ = slot_reports(instance, "Simulated")
                stored = sorted(r.stored for r in reports)
                if stored and first is None:
                    first = parse_slot(stored[0])
                    # the next run fails: its client's 4 attempts at /get all answer 500
                    server.control({"fault": {"kind": "500", "times": 4, "path": "/get"}})
                reasons = " ".join(why for r in reports for why in [*r.refilled.values(), *r.lost.values()])
                faulted = "HTTP 500" in reasons
                if first and faulted and not _unreported(reports, first):
                    break
                assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()[-3000:]
                time.sleep(1)
            else:
                pytest.fail(f"no snapshot after the simulated hour; stored {stored}; daemon log:\n"
                            + (tmp_path / "daemon.log").read_text()[-3000:])
            backfill.wait(timeout=60)
        finally:
            _stop(backfill)
            _stop(daemon)

    # every slot of the hour after the first snapshot: stored, refilled, or lost with its reason
    reports, _ = slot_reports(instance, "Simulated")
    hour = [slot_key(first + timedelta(minutes=5 * i)) for i in range(HOUR)]
    everything = account(reports, first + timedelta(minutes=5 * HOUR), first)
    day = SlotAccount(hour, [s for s in everything.stored if s in hour],
                      {s: why for s, why in everything.refilled.items() if s in hour},
                      {s: why for s, why in everything.lost.items() if s in hour})
    assert not _unreported(reports, first)
    assert set(day.stored) | set(day.refilled) | set(day.lost) == set(hour)
    assert all(reason.strip() for reason in [*day.refilled.values(), *day.lost.values()])
    # the run that met the injected 500s is named as the reason of its slot, and that slot was not dropped
    assert any("HTTP 500" in why for r in reports for why in [*r.refilled.values(), *r.lost.values()])
    # a slot is lost only when POE Watch changed its prices in the gap (it recomputes every simulated hour)
    assert all("changed its" in why for why in day.lost.values()), day.lost

    # ingestion never waited behind training: it left the queue within seconds, while training runs queued
    # before it waited for a batch slot; some ingestion runs were launched while training held both batch slots
    ended_at = time.time()

    def queued(job: str) -> list[tuple[float, float, float]]:  # (enqueued, launched, ended); inf: not yet
        out = []
        for record in instance.get_run_records(filters=dg.RunsFilter(job_name=job)):
            run_id = record.dagster_run.run_id
            window = queue_window(instance, run_id)
            if window is None:  # still queued when the daemon stopped
                enqueued = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_ENQUEUED).records
                window = (enqueued[0].timestamp, float("inf"))
            out.append((*window, record.end_time or float("inf")))
        return out

    def waited(runs: list[tuple[float, float, float]]) -> list[float]:
        return sorted(round(min(launched, ended_at) - enqueued, 1) for enqueued, launched, _ in runs)

    ingestion, trainings = queued("ingestion_job"), queued("training_job")
    assert len(trainings) == len(training) and len(ingestion) >= 3
    ingestion_delays, training_delays = waited(ingestion), waited(trainings)
    busy = [i for i in ingestion if sum(t[1] <= i[1] <= t[2] for t in trainings) == 2]
    jumped = [(i, t) for i in ingestion for t in trainings if t[0] < i[0] and i[1] < t[1]]
    print(f"\nslots of the hour: {day.summary()}; lost: {day.lost}\ningestion queue delays (s) {ingestion_delays}\n"
          f"training queue delays (s, to the end of the test when still queued) {training_delays}\n{len(busy)} "
          f"ingestion runs launched while training held both batch slots; {len(jumped)} (ingestion, training) pairs "
          "where ingestion overtook a training run queued before it")
    assert busy, "the batch lane was never full while an ingestion run was launched: the test proves nothing"
    assert jumped, "no ingestion run ever overtook a training run queued before it"
    assert ingestion_delays[-1] < training_delays[-1]
    assert ingestion_delays[-1] < 30, f"an ingestion run waited {ingestion_delays[-1]} s in the queue"
    runs = instance.get_run_records(filters=dg.RunsFilter(job_name="ingestion_job"))
    assert all(r.dagster_run.tags.get("dagster/priority") == "10" for r in runs)
    shutil.rmtree(dagster_home / "compute_logs", ignore_errors=True)
