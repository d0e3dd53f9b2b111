"""Run the graph the way a Dagster user does: `dagster dev` (webserver + daemon) and backfills over GraphQL.

Used by ``poeconomy demo`` (``make demo``), ``poeconomy cluster demo``, the daemon-backfill tests and
``benchmarks/bench_backfill.py``. The
server listens on 127.0.0.1 and an ephemeral port, with the DAGSTER_HOME and POECONOMY_HOME it is given,
and is stopped (its whole process group) on exit.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Self

from poeconomy_assets.core.progress import Progress

REPO_ROOT = Path(__file__).resolve().parents[2]
DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


def _union_operation(signature: str, field: str, *answers: str) -> str:
    """A GraphQL operation on one root field whose result is a union: its ``__typename``, the ``answers`` (a
    selection on each type the caller reads, error types that do not implement ``Error`` included), and the
    message of any error that does (a PythonError adds its stack)."""
    selection = ["__typename", *answers, "... on Error { message }", "... on PythonError { stack }"]
    return "\n".join([f"{signature} {{", f"  {field} {{", *(f"    {line}" for line in selection), "  }", "}"])


LAUNCH = _union_operation(
    "mutation Launch($params: LaunchBackfillParams!)",
    "launchPartitionBackfill(backfillParams: $params)",
    "... on LaunchBackfillSuccess { backfillId }",
    "... on InvalidStepError { invalidStepKey }",
    "... on InvalidOutputError { invalidOutputName }",
)
STATUS = _union_operation(
    "query Backfill($id: String!)",
    "partitionBackfillOrError(backfillId: $id)",
    "... on PartitionBackfill { id status numCancelable error { message } }",
)
LAUNCH_RUN = _union_operation(
    "mutation LaunchRun($params: ExecutionParams!)",
    "launchRun(executionParams: $params)",
    "... on LaunchRunSuccess { run { runId } }",
    "... on RunConfigValidationInvalid { errors { message } }",
)
PARTITION_COUNTS = _union_operation(
    "query Counts($id: String!)",
    "partitionBackfillOrError(backfillId: $id)",
    "... on PartitionBackfill { assetBackfillData { assetBackfillStatuses { "
    "... on AssetPartitionsStatusCounts { numPartitionsTargeted numPartitionsMaterialized numPartitionsFailed } "
    "... on UnpartitionedAssetStatus { materialized failed } } } }",
)
RUN_STATUS = _union_operation("query Run($id: ID!)", "runOrError(runId: $id)", "... on Run { status }")
RUNS = _union_operation(
    "query Runs($filter: RunsFilter!)",
    "runsOrError(filter: $filter)",
    "... on Runs { results { runId status jobName tags { key value } } }",
)


# A throwaway instance for the daemon: two runs at once (2 cores), two slots in every pool (training included).
INSTANCE_YAML = """
storage:
  sqlite:
    base_dir: {home}/storage
run_coordinator:
  module: dagster
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
concurrency:
  runs:
    max_concurrent_runs: 2
  pools:
    default_limit: 2
telemetry:
  enabled: false
nux:
  enabled: false
python_logs:
  managed_python_loggers:
    - poeconomy.search
  python_log_level: INFO
"""


def write_instance_yaml(dagster_home: Path) -> Path:
    """A dagster.yaml for a temporary instance in ``dagster_home`` (see INSTANCE_YAML); returns its path."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    path = dagster_home / "dagster.yaml"
    path.write_text(INSTANCE_YAML.format(home=dagster_home))
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# A background shell starts children with SIGINT ignored, and `dagster dev` copies that onto SIGTERM: this
# wrapper resets both to their defaults, then execs the command, so the server stops when asked.
SIGNAL_RESET_WRAPPER = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "signal.signal(signal.SIGTERM, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"
)


class DagsterDevError(RuntimeError):
    """The server did not start, a GraphQL call failed, or a backfill did not finish in time."""


class DagsterDev:
    """`dagster dev -w workspace.yaml` in a process group of its own; a context manager."""

    def __init__(
        self,
        dagster_home: Path,
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        startup_timeout: float = 180.0,
        port: int | None = None,
    ) -> None:
        self.dagster_home = Path(dagster_home)
        self.env = {**os.environ, **(env or {}), "DAGSTER_HOME": str(self.dagster_home)}
        self.log_path = Path(log_path or self.dagster_home / "dagster_dev.log")
        self.startup_timeout = startup_timeout
        self.port = port or _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self.dagster_home.mkdir(parents=True, exist_ok=True)
        dagster = Path(sys.executable).with_name("dagster")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    SIGNAL_RESET_WRAPPER,
                    str(dagster),
                    "dev",
                    "-w",
                    str(REPO_ROOT / "workspace.yaml"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                ],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DagsterDevError(
                    f"dagster dev exited with {self.process.returncode}; see {self.log_path}"
                )
            try:
                if self.graphql("{ version }").get("version"):
                    self._wait_for_location(deadline)
                    return self
            except (OSError, DagsterDevError):
                pass
            time.sleep(0.5)
        self.stop()
        raise DagsterDevError(f"dagster dev did not answer on {self.url} in {self.startup_timeout:.0f}s")

    def _wait_for_location(self, deadline: float) -> None:
        query = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
        while time.monotonic() < deadline:
            entries = self.graphql(query)["workspaceOrError"].get("locationEntries", [])
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return
            time.sleep(0.5)
        raise DagsterDevError("the code location did not load")

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                payload = json.loads(response.read())
        except urllib.error.HTTPError as error:  # GraphQL validation errors come back as 400 with a body
            raise DagsterDevError(
                f"GraphQL {error.code}: {error.read().decode(errors='replace')[:2000]}"
            ) from error
        if payload.get("errors"):
            raise DagsterDevError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def answer(self, query: str, variables: dict, expected: str, failure: str) -> dict:
        """The answer to a ``_union_operation`` when it is of type ``expected``; else DagsterDevError."""
        (result,) = self.graphql(query, variables).values()
        if result["__typename"] != expected:
            raise DagsterDevError(f"{failure}: {result}")
        return result

    def _launch_backfill(self, params: dict, what: str) -> str:
        return self.answer(
            LAUNCH, {"params": params}, "LaunchBackfillSuccess", f"backfill of {what} not launched"
        )["backfillId"]

    def launch_backfill(
        self,
        assets: list[str],
        partition_names: list[str] | None = None,
        title: str = "",
        tags: dict[str, str] | None = None,
        run_config: dict | None = None,
    ) -> str:
        """An asset backfill of ``assets`` (every partition of each, unless ``partition_names`` is given), as the
        UI's "Materialize all partitions" launches it; returns the backfill id."""
        params: dict = {
            "assetSelection": [{"path": [a]} for a in assets],
            "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
            "title": title,
        }
        if run_config:
            params["runConfigData"] = run_config
        if partition_names is None:
            params["allPartitions"] = True
        else:
            params["partitionNames"] = partition_names
        return self._launch_backfill(params, str(assets))

    def launch_run(
        self,
        job: str,
        run_config: dict | None = None,
        location: str = "poeconomy_assets",
        tags: dict[str, str] | None = None,
    ) -> str:
        """Launch one run of ``job`` (as the UI's Launchpad does), with ``tags`` (e.g. ``dagster/partition``);
        returns its run id."""
        params = {
            "selector": {
                "repositoryLocationName": location,
                "repositoryName": "__repository__",
                "jobName": job,
            },
            "runConfigData": run_config or {},
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]},
        }
        result = self.answer(LAUNCH_RUN, {"params": params}, "LaunchRunSuccess", f"run of {job} not launched")
        return result["run"]["runId"]

    def wait_run(self, run_id: str, timeout: float = 600.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.graphql(RUN_STATUS, {"id": run_id})["runOrError"].get("status")
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                return status
            time.sleep(0.5)
        raise DagsterDevError(f"run {run_id} not finished after {timeout:.0f}s")

    def wait_backfill(
        self, backfill_id: str, timeout: float = 600.0, progress: Callable[[str], None] = lambda status: None
    ) -> str:
        """Poll until the backfill is done (and none of its runs is still going); its final status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.answer(STATUS, {"id": backfill_id}, "PartitionBackfill", f"backfill {backfill_id}")
            progress(result["status"])
            if result["status"] in DONE and not self.backfill_runs(backfill_id, active_only=True):
                return result["status"]
            time.sleep(1.0)
        raise DagsterDevError(f"backfill {backfill_id} not finished after {timeout:.0f}s")

    def backfill_and_wait(
        self,
        assets: list[str],
        log: Callable[[str], None],
        timeout: float = 3600.0,
        run_config: dict | None = None,
    ) -> list[dict]:
        """Backfill every partition of ``assets``, log its progress, and return its runs; raises DagsterDevError
        unless every run succeeded."""
        return self.backfill_and_wait_id(self.launch_backfill(assets, run_config=run_config), log, timeout)

    def partition_counts(self, backfill_id: str) -> tuple[int, int, int]:
        """(partitions materialized, failed, targeted) over every asset of an asset backfill."""
        statuses = self.graphql(PARTITION_COUNTS, {"id": backfill_id})["partitionBackfillOrError"]
        done = failed = targeted = 0
        for status in (statuses.get("assetBackfillData") or {}).get("assetBackfillStatuses", []):
            if "numPartitionsTargeted" in status:
                done += status["numPartitionsMaterialized"]
                failed += status["numPartitionsFailed"]
                targeted += status["numPartitionsTargeted"]
            elif "materialized" in status:  # an unpartitioned asset
                done += bool(status["materialized"])
                failed += bool(status["failed"])
                targeted += 1
        return done, failed, targeted

    def backfill_and_wait_id(self, backfill: str, log: Callable[[str], None], timeout: float) -> list[dict]:
        """Wait for an asset backfill, logging partitions done / total and the time left at least every 15 s
        (the figures of the UI's Backfills page); its runs, or DagsterDevError unless every run succeeded."""
        progress = Progress(0, "backfill", log, unit="partitions", every=15.0)

        def report(_status: str) -> None:
            done, failed, targeted = self.partition_counts(backfill)
            progress.total = targeted
            if done + failed != progress.done:
                progress.step(done + failed - progress.done)
            elif time.perf_counter() - progress.last >= progress.every:
                progress.last = time.perf_counter()
                log(progress.line())

        status = self.wait_backfill(backfill, timeout, report)
        runs = self.backfill_runs(backfill)
        if status != "COMPLETED_SUCCESS" or not runs or any(r["status"] != "SUCCESS" for r in runs):
            raise DagsterDevError(
                f"backfill {backfill} ended {status}; runs: "
                f"{sorted((r['status'], r['runId']) for r in runs)[:5]}; see {self.log_path}"
            )
        return runs

    def backfill_runs(self, backfill_id: str, active_only: bool = False) -> list[dict]:
        run_filter: dict = {"tags": [{"key": "dagster/backfill", "value": backfill_id}]}
        if active_only:
            run_filter["statuses"] = ["QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"]
        return self.graphql(RUNS, {"filter": run_filter})["runsOrError"]["results"]


def materialize_through_dagster_dev(
    server: DagsterDev,
    assets: list[str],
    log: Callable[[str], None] = print,
    timeout: float = 7200.0,
    title: str = "poeconomy demo",
) -> list[dict]:
    """The whole graph as a Dagster user launches it: a run of ``history_job`` (it registers the league and currency
    partitions the rest is partitioned by), then one asset backfill of every partition of ``assets``, as the UI's
    "Materialize all" launches it. Dagster orders the backfill's runs from the declared dependencies and cuts each
    asset's partitions into runs by its backfill policy. Returns every run; raises DagsterDevError unless all
    succeeded."""
    log("1/2 importing past leagues: a run of history_job")
    run_id = server.launch_run("history_job")
    if (status := server.wait_run(run_id, timeout)) != "SUCCESS":
        raise DagsterDevError(f"history_job run {run_id} ended {status}; see {server.log_path}")
    log(f"2/2 one asset backfill of {len(assets)} assets, every partition: {', '.join(assets)}")
    backfill = server.launch_backfill(assets, title=title, tags={"poeconomy/lane": "batch"})
    log(f"    backfill {backfill}: {server.url}/runs/b/{backfill} (the daemon starts its runs within 30 s)")
    runs = server.backfill_and_wait_id(backfill, log, timeout)
    history = server.graphql(RUN_STATUS, {"id": run_id})
    return [{"runId": run_id, "status": history["runOrError"]["status"], "jobName": "history_job"}, *runs]


def set_pool_limit(dagster_home: Path, pool: str, limit: int) -> None:
    """``dagster instance concurrency set POOL LIMIT`` on the instance in ``dagster_home`` (pool limits other
    than the default live in the instance database, not in dagster.yaml)."""
    dagster = Path(sys.executable).with_name("dagster")
    subprocess.run(
        [str(dagster), "instance", "concurrency", "set", pool, str(limit)],
        check=True,
        env={**os.environ, "DAGSTER_HOME": str(dagster_home)},
        capture_output=True,
        timeout=300,
    )
