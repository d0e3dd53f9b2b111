"""Start and stop Celery worker nodes as separate processes (``poeconomy cluster up|down``).

Each node is one ``celery worker`` process with its own prefork pool, consuming some queues, started in a
session of its own with the environment it is given (so it can be stopped, or killed, as a whole). Its
pid and log file live in the state directory (``$POECONOMY_HOME/cluster`` by default).
"""

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class NodeSpec:
    name: str  # unique on this host: the node is "<name>@<host>"
    queues: tuple[str, ...]  # kinds of work ("training", "default"), prefixed per deployment when started
    concurrency: int


def read_node_specs(path: Path) -> list[NodeSpec]:
    """deploy/celery/workers.yaml: ``nodes: [{name, count, queues, concurrency}]``."""
    document = yaml.safe_load(Path(path).read_text()) or {}
    specs = []
    for entry in document.get("nodes") or []:
        count = int(entry.get("count", 1))
        for i in range(1, count + 1):
            specs.append(
                NodeSpec(
                    f"{entry['name']}{i}" if count > 1 else entry["name"],
                    tuple(entry["queues"]),
                    int(entry.get("concurrency", 1)),
                )
            )
    if not specs:
        raise ValueError(f"{path}: no worker nodes under `nodes:`")
    return specs


def uniform_specs(
    workers: int, queues: tuple[str, ...] = ("training", "default"), concurrency: int = 1, prefix: str = "w"
) -> list[NodeSpec]:
    return [NodeSpec(f"{prefix}{i}", queues, concurrency) for i in range(1, workers + 1)]


def node_hostname(spec: NodeSpec) -> str:
    return f"{spec.name}@{socket.gethostname()}"


@dataclass
class Node:
    spec: NodeSpec
    pid: int
    log: Path

    @property
    def hostname(self) -> str:
        return node_hostname(self.spec)

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        try:  # a zombie (exited, not yet reaped by its parent) is not alive
            return Path(f"/proc/{self.pid}/stat").read_text().split(") ")[1][0] != "Z"
        except (OSError, IndexError):
            return True

    def ready(self) -> bool:
        return self.log.exists() and " ready." in self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole node (parent and pool processes): a machine lost mid-step."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def start_node(spec: NodeSpec, state_dir: Path, env: dict[str, str] | None = None) -> Node:
    state_dir.mkdir(parents=True, exist_ok=True)
    log = state_dir / f"{spec.name}.log"
    log.unlink(missing_ok=True)
    environment = {**os.environ, **(env or {}), "POECONOMY_WORKER_NAME": spec.name}
    prefix = environment.get("POECONOMY_CELERY_QUEUE_PREFIX", "")  # the worker's deployment, not ours
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "poeconomy_assets.cluster.celery_app",
        "worker",
        "--queues",
        ",".join(prefix + q for q in spec.queues),
        "--concurrency",
        str(spec.concurrency),
        # The queue prefix in the node name too: two deployments on one broker (two test runs) never share a
        # node's control queue (``<node>.celery.pidbox`` is exclusive to one connection).
        "--hostname",
        f"{spec.name}@{prefix}%h",
        "--loglevel",
        "INFO",
        "--logfile",
        str(log),
        "--without-gossip",
        "--without-mingle",  # nodes need not know each other: the broker is the hub
    ]
    with open(state_dir / f"{spec.name}.stderr", "wb") as stderr:  # the child keeps its own copy
        process = subprocess.Popen(
            command,
            env=environment,
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    (state_dir / f"{spec.name}.pid").write_text(str(process.pid))
    return Node(spec, process.pid, log)


def wait_ready(nodes: list[Node], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = [n for n in nodes if not n.alive()]
        if dead:
            raise RuntimeError(f"worker {dead[0].spec.name} exited at start; see {dead[0].log} and .stderr")
        if all(n.ready() for n in nodes):
            return
        time.sleep(0.3)
    raise TimeoutError(
        f"workers not ready after {timeout:.0f}s: "
        f"{[n.spec.name for n in nodes if not n.ready()]} (logs in {nodes[0].log.parent})"
    )


def start_cluster(
    specs: list[NodeSpec], state_dir: Path, env: dict[str, str] | None = None, timeout: float = 60.0
) -> list[Node]:
    running = [n.spec.name for n in running_nodes(state_dir)]
    if running:
        raise RuntimeError(
            f"workers already running from {state_dir}: {running} (poeconomy cluster down first)"
        )
    nodes = [start_node(spec, state_dir, env) for spec in specs]
    try:
        wait_ready(nodes, timeout)
    except Exception:
        stop_nodes(nodes, timeout=5)
        raise
    return nodes


def running_nodes(state_dir: Path) -> list[Node]:
    nodes = []
    for pid_file in sorted(Path(state_dir).glob("*.pid")):
        node = Node(NodeSpec(pid_file.stem, (), 0), int(pid_file.read_text()), pid_file.with_suffix(".log"))
        if node.alive():
            nodes.append(node)
        else:
            pid_file.unlink(missing_ok=True)
    return nodes


def stop_nodes(nodes: list[Node], timeout: float = 30.0) -> None:
    """Warm shutdown (SIGTERM: finish the steps in hand, take no more), then SIGKILL after ``timeout``."""
    for node in nodes:
        try:
            os.kill(node.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(n.alive() for n in nodes):
        time.sleep(0.2)
    for node in nodes:
        if node.alive():
            node.kill()
        node.log.with_suffix(".pid").unlink(missing_ok=True)


def stop_cluster(state_dir: Path, timeout: float = 30.0) -> list[str]:
    nodes = running_nodes(state_dir)
    stop_nodes(nodes, timeout)
    return [n.spec.name for n in nodes]
