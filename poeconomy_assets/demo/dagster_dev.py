"""Run the graph the way a Dagster user does: `dagster dev` (webserver + daemon) and backfills over GraphQL.

Used by ``poeconomy demo --daemon``, the daemon-backfill test and ``benchmarks/bench_backfill.py``. The
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
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Self

REPO_ROOT = Path(__file__).resolve().parents[2]
DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}

LAUNCH = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on PartitionSetNotFoundError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { invalidOutputName }
    ... on UnauthorizedError { message }
  }
}"""

STATUS = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { id status numCancelable error { message } }
    ... on PythonError { message }
  }
}"""

RUNS = """
query Runs($filter: RunsFilter!) {
  runsOrError(filter: $filter) {
    ... on Runs { results { runId status jobName tags { key value } } }
    ... on PythonError { message }
  }
}"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# A background shell starts children with SIGINT ignored, and `dagster dev` copies that onto SIGTERM: this
# wrapper resets both to their defaults, then execs the command, so the server stops when asked.
SIGNAL_RESET_WRAPPER = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                        "signal.signal(signal.SIGTERM, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])")


class DagsterDevError(RuntimeError):
    """The server did not start, a GraphQL call failed, or a backfill did not finish in time."""


class DagsterDev:
    """`dagster dev -w workspace.yaml` in a process group of its own; a context manager."""

    def __init__(self, dagster_home: Path, env: dict[str, str] | None = None, log_path: Path | None = None,
                 startup_timeout: float = 180.0) -> None:
        self.dagster_home = Path(dagster_home)
        self.env = {**os.environ, **(env or {}), "DAGSTER_HOME": str(self.dagster_home)}
        self.log_path = Path(log_path or self.dagster_home / "dagster_dev.log")
        self.startup_timeout = startup_timeout
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self.dagster_home.mkdir(parents=True, exist_ok=True)
        dagster = Path(sys.executable).with_name("dagster")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", SIGNAL_RESET_WRAPPER, str(dagster), "dev", "-w", str(REPO_ROOT / "workspace.yaml"),
                 "-h", "127.0.0.1", "-p", str(self.port)],
                cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DagsterDevError(f"dagster dev exited with {self.process.returncode}; see {self.log_path}")
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
        request = urllib.request.Request(f"{self.url}/graphql", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            payload = json.loads(response.read())
        if payload.get("errors"):
            raise DagsterDevError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def launch_backfill(self, assets: list[str], partition_names: list[str] | None = None,
                        title: str = "", tags: dict[str, str] | None = None) -> str:
        """An asset backfill of ``assets`` (every partition of each, unless ``partition_names`` is given), as the
        UI's "Materialize all partitions" launches it; returns the backfill id."""
        params: dict = {"assetSelection": [{"path": [a]} for a in assets],
                        "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()], "title": title}
        if partition_names is None:
            params["allPartitions"] = True
        else:
            params["partitionNames"] = partition_names
        result = self.graphql(LAUNCH, {"params": params})["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise DagsterDevError(f"backfill of {assets} not launched: {result}")
        return result["backfillId"]

    def wait_backfill(self, backfill_id: str, timeout: float = 600.0,
                      progress: Callable[[str], None] = lambda status: None) -> str:
        """Poll until the backfill is done (and none of its runs is still going); its final status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.graphql(STATUS, {"id": backfill_id})["partitionBackfillOrError"]
            if result["__typename"] != "PartitionBackfill":
                raise DagsterDevError(f"backfill {backfill_id}: {result}")
            progress(result["status"])
            if result["status"] in DONE and not self.backfill_runs(backfill_id, active_only=True):
                return result["status"]
            time.sleep(1.0)
        raise DagsterDevError(f"backfill {backfill_id} not finished after {timeout:.0f}s")

    def backfill_runs(self, backfill_id: str, active_only: bool = False) -> list[dict]:
        run_filter: dict = {"tags": [{"key": "dagster/backfill", "value": backfill_id}]}
        if active_only:
            run_filter["statuses"] = ["QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"]
        return self.graphql(RUNS, {"filter": run_filter})["runsOrError"]["results"]
