"""Materialize the whole graph partition by partition, in dependency order, in this process (and, with
``workers=2``, in one more: both cores).

This is what ``poeconomy demo`` runs: one run per partition of a named job (``model_job``, ...), every
run recorded in the Dagster instance with its events, so the UI's Runs list, asset pages and checks show
them. (A job's page and the timeline list only runs launched through a code location, i.e. by the daemon
or the webserver: ``poeconomy demo --daemon`` launches them that way, see ``demo/dagster_dev.py``.)
"""

import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from poeconomy_assets.core.keys import key_from_name
from poeconomy_assets.core.schemas import HORIZONS


class GraphRunError(RuntimeError):
    """A run of the graph failed; the message names the job, the partition and why."""


@dataclass
class GraphRun:
    """What a whole-graph materialization did."""

    runs: int = 0
    seconds: float = 0.0
    leagues: list[str] = field(default_factory=list)
    currencies: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class WorkerSpec:
    """How a second process rebuilds the same graph and instance (everything here pickles)."""

    home: str
    dumps: str
    instance_dir: str | None  # None: DagsterInstance.get() (DAGSTER_HOME)
    run_config: dict | None

    def runner(self) -> "GraphRunner":
        from poeconomy_assets.definitions import build_defs
        from poeconomy_assets.defs.resources import build_resources

        instance = (dg.DagsterInstance.local_temp(tempdir=self.instance_dir) if self.instance_dir
                    else dg.DagsterInstance.get())
        defs = build_defs(build_resources(Path(self.home), Path(self.dumps)))
        return GraphRunner(defs, instance, self.run_config, log=lambda _: None)


_WORKER: "GraphRunner | None" = None


def _start_worker(spec: WorkerSpec) -> None:
    global _WORKER
    _WORKER = spec.runner()


def _run_in_worker(job_name: str, partition_key: str) -> tuple[list[str], str | None]:
    """(failed checks, error message) of one run in a worker process."""
    assert _WORKER is not None
    failed_before = len(_WORKER.outcome.failed_checks)
    try:
        _WORKER.run(job_name, partition_key)
    except GraphRunError as error:
        return _WORKER.outcome.failed_checks[failed_before:], str(error)
    return _WORKER.outcome.failed_checks[failed_before:], None


class GraphRunner:
    """Runs named jobs of ``defs`` against ``instance``, keeping count in ``outcome``. With a ``WorkerSpec`` and
    ``workers`` > 1, the partitions of a step also run in that many processes (one more per extra core)."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance, run_config: dict | None = None,
                 log: Callable[[str], None] = print, workers: int = 1, spec: WorkerSpec | None = None) -> None:
        self.defs, self.instance, self.run_config, self.log = defs, instance, run_config, log
        self.workers = workers if spec is not None else 1
        self.spec = spec
        self._pool: ProcessPoolExecutor | None = None
        self.outcome = GraphRun()
        self.started = time.perf_counter()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def run_all(self, job_name: str, keys: list[str], what: str | None = None) -> None:
        """Every partition in ``keys`` of ``job_name``; with workers, ``workers - 1`` other processes and this one
        share them. Progress (done / total, time left) is logged when ``what`` names the items."""
        progress = Progress(len(keys), what, self.log) if what else None
        if self.workers <= 1 or len(keys) < 2:
            for key in keys:
                self.run(job_name, key)
                if progress:
                    progress.step()
            return
        if self._pool is None:
            context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited threads or sockets
            self._pool = ProcessPoolExecutor(self.workers - 1, mp_context=context, initializer=_start_worker,
                                             initargs=(self.spec,))
        remote = set(keys[::self.workers])  # every other key; the rest run here, so this process works too
        pending = {self._pool.submit(_run_in_worker, job_name, key) for key in keys if key in remote}
        errors: list[str] = []

        def collect(done: object) -> None:
            for future in done:  # type: ignore[attr-defined]
                failed, error = future.result()
                self.outcome.runs += 1
                self.outcome.failed_checks += failed
                errors.extend([error] if error else [])
                if progress:
                    progress.step()

        for key in (k for k in keys if k not in remote):
            self.run(job_name, key)
            if progress:
                progress.step()
            done = {f for f in pending if f.done()}
            collect(done)
            pending -= done
        collect(as_completed(pending))
        if errors:
            raise GraphRunError("\n".join(errors))

    def run(self, job_name: str, partition_key: str | None = None) -> dg.ExecuteInProcessResult:
        """One run of ``job_name`` (the ops config of ``run_config`` that applies to it); raises GraphRunError."""
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}  # the UI keeps every event
        job = self.defs.resolve_job_def(job_name)
        result = job.execute_in_process(
            instance=self.instance, partition_key=partition_key,
            run_config={**quiet, **ops_config(job, self.run_config)}, raise_on_error=False)
        self.outcome.runs += 1
        # A WARN-level failure (the scorecard's drift check) is a signal to retrain, not a broken run.
        failed = [e for e in result.get_asset_check_evaluations()
                  if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]
        self.outcome.failed_checks += [f"{e.check_name} [{partition_key}]" for e in failed]
        if not result.success:
            raise GraphRunError(_explain(job_name, partition_key, result, failed))
        return result

    def inputs(self) -> None:
        """Steps 1–3: past leagues, daily prices per league, features per currency (what training reads)."""
        self.log("1/6 importing past leagues (poe_ninja_history)")
        history = self.run("history_job").output_for_node("poe_ninja_history")
        # Only what this import found: the instance may hold partitions of other dump directories.
        self.outcome.leagues = sorted(key_from_name(x) for x in history["league"].unique())
        # ... and of its items, those with enough history to forecast (poe_ninja_history registers only those).
        eligible = set(self.instance.get_dynamic_partitions("currency"))
        self.outcome.currencies = sorted(k for k in (key_from_name(x) for x in history["currency"].unique())
                                         if k in eligible)
        self.log(f"2/6 daily prices for {len(self.outcome.leagues)} leagues")
        self.run_all("daily_prices_job", self.outcome.leagues)
        self.log(f"3/6 features for {len(self.outcome.currencies)} currencies")
        self.run_all("features_job", self.outcome.currencies, "currencies")

    def model_keys(self) -> list[str]:
        return [str(dg.MultiPartitionKey({"currency": c, "horizon": h}))
                for c in self.outcome.currencies for h in HORIZONS]

    def training(self, keys: list[str] | None = None) -> None:
        """Step 4: one pooled search per horizon, every currency × horizon model (in the order of ``keys``),
        then every forecast (they pool the walk-forward residuals of every model of their horizon)."""
        keys = keys or self.model_keys()
        self.log(f"4/6 one pooled search per horizon, {len(keys)} currency × horizon models, then forecasts")
        self.run_all("pooled_model_job", list(HORIZONS), "pooled searches")
        self.run_all("model_job", keys, "models")
        self.run_all("forecast_job", keys, "forecasts")

    def reports(self) -> None:
        """Steps 5–6: the report of every league, then the live league's scorecard."""
        self.log(f"5/6 investment reports for {len(self.outcome.leagues)} leagues")
        self.run_all("report_job", self.outcome.leagues)
        self.log("6/6 scoring the live league's past forecasts (forecast_scorecard)")
        self.run("scorecard_job")
        self.outcome.seconds = time.perf_counter() - self.started


class Progress:
    """Items done / total and an estimate of the time left, logged every ``every`` items and at the end."""

    def __init__(self, total: int, what: str, log: Callable[[str], None], every: int = 5) -> None:
        self.total, self.what, self.log, self.every = total, what, log, every
        self.done, self.started = 0, time.perf_counter()

    def step(self, count: int = 1) -> None:
        self.done += count
        if self.done % self.every == 0 or self.done == self.total:
            self.log(f"    {self.line()}")

    def line(self) -> str:
        elapsed = time.perf_counter() - self.started
        left = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
        return f"{self.done}/{self.total} {self.what} ({elapsed:.0f}s, about {left:.0f}s left)"


def materialize_graph(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    run_config: dict | None = None,
    log: Callable[[str], None] = print,
    workers: int = 1,
    spec: WorkerSpec | None = None,
) -> GraphRun:
    """history → daily prices (per league) → features (per currency) → pooled models (per horizon) → models,
    then forecasts (per currency × horizon) → report (per league) → scorecard. Raises on the first failed run;
    a failed drift check is recorded in ``failed_checks`` like any other check. ``workers=2`` with a ``spec``
    (how another process opens the same graph and instance) runs each step's partitions on two cores."""
    runner = GraphRunner(defs, instance, run_config, log, workers, spec)
    try:
        runner.inputs()
        runner.training()
        runner.reports()
    finally:
        runner.close()
    return runner.outcome


def ops_config(job: dg.JobDefinition, run_config: dict | None) -> dict:
    """The part of ``run_config`` that configures ops of ``job`` (a run rejects config for ops it lacks)."""
    ops = (run_config or {}).get("ops", {})
    names = {node.name for node in job.graph.nodes}
    return {"ops": {k: v for k, v in ops.items() if k in names}} if ops else {}


def materialize_subset(
    defs: dg.Definitions, instance: dg.DagsterInstance, subset: object, run_config: dict | None = None
) -> list[dg.ExecuteInProcessResult]:
    """Run an asset backfill's partitions in this process, parents first (what the backfill daemon does,
    one run per asset partition); raises GraphRunError on the first failed run."""
    graph = defs.resolve_asset_graph()
    wanted = {(p.asset_key, p.partition_key) for p in subset.iterate_asset_partitions()}  # type: ignore[attr-defined]
    results = []
    for key in graph.toposorted_asset_keys:
        for asset_key, partition in sorted((w for w in wanted if w[0] == key), key=lambda w: str(w[1])):
            job = defs.resolve_implicit_job_def_def_for_assets([asset_key])
            assert job is not None, asset_key
            config = {"ops": {k: v for k, v in (run_config or {}).get("ops", {}).items() if k == asset_key.path[-1]}}
            result = job.execute_in_process(
                instance=instance, partition_key=partition, asset_selection=[asset_key],
                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}, **config},
                raise_on_error=False, tags={"poeconomy/backfill": "in-process"},
            )
            if not result.success:
                failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
                raise GraphRunError(_explain(asset_key.to_user_string(), str(partition), result, failed))
            results.append(result)
    return results


def _explain(job: str, partition: str | None, result: dg.ExecuteInProcessResult, failed_checks: list) -> str:
    lines = [f"{job} [{partition or 'unpartitioned'}] failed (run {result.run_id})"]
    for evaluation in failed_checks:
        cases = evaluation.metadata.get("failure_cases")
        if isinstance(cases, dg.TableMetadataValue):  # one line per row (the consistency check's problems)
            text = "\n".join("    " + ", ".join(f"{k}: {v}" for k, v in r.data.items()) for r in cases.records)
        else:
            text = cases.value if cases else ""
        lines.append(f"  check {evaluation.check_name} failed:\n{text}")
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error:
            error = event.step_failure_data.error
            while error.cause is not None:  # the user's exception is the innermost cause
                error = error.cause
            lines.append(f"  step {event.step_key}: {error.message.strip()}")
    return "\n".join(lines)
