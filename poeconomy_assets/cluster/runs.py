"""Launch many runs at once, each orchestrated by one of a few run processes, their steps on Celery workers.

This is what Dagster's backfill daemon does with a run queue (one run per partition, a few at a time), in
one command with no daemon: every run is recorded in the instance and shows on its job's page in the UI.
Run processes, not threads: Dagster's event logging is not safe for concurrent runs in one process (two
runs in threads deadlock on the logging lock).
"""

import multiprocessing
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import dagster as dg

from poeconomy_assets.cluster.jobs import reconstructable_job

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}  # the instance keeps every event


@dataclass
class RunOutcome:
    job: str
    partition: str | None
    run_id: str
    success: bool
    seconds: float
    failed_checks: list[str] = field(default_factory=list)


def partition_tags(partition: str | None) -> dict[str, str]:
    """The tags Dagster gives a run of one partition (one per dimension for a ``currency|horizon`` key)."""
    if partition is None:
        return {}
    tags = {"dagster/partition": partition}
    if "|" in partition:  # multi-partition keys list dimensions alphabetically: currency|horizon
        currency, horizon = partition.split("|")
        tags |= {"dagster/partition/currency": currency, "dagster/partition/horizon": horizon}
    return tags


def run_one(
    instance: dg.DagsterInstance,
    job: str,
    partition: str | None,
    run_config: dict | None = None,
    tags: dict[str, str] | None = None,
) -> RunOutcome:
    started = time.perf_counter()
    run_config = {**QUIET, **(run_config or {})}
    with dg.execute_job(
        reconstructable_job(job),
        instance=instance,
        run_config=run_config,
        tags={**(tags or {}), **partition_tags(partition)},
        raise_on_error=False,
    ) as result:
        failed = [
            f"{e.check_name} [{partition}]"
            for e in result.get_asset_check_evaluations()
            if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
        ]
        return RunOutcome(
            job, partition, result.run_id, result.success, time.perf_counter() - started, failed
        )


_INSTANCE: list[dg.DagsterInstance] = []  # one per run process


def _open_instance(instance_ref) -> None:
    _INSTANCE.append(dg.DagsterInstance.from_ref(instance_ref))


def _run_in_process(
    job: str, partition: str | None, run_config: dict | None, tags: dict | None
) -> RunOutcome:
    return run_one(_INSTANCE[0], job, partition, run_config, tags)


def _context() -> multiprocessing.context.BaseContext:
    """Run processes forked from a server that has imported the project once (a fresh interpreter per run
    process would re-import Dagster, polars and the models: tens of seconds on a loaded machine), and that
    holds no database connection or thread a fork could copy."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["poeconomy_assets.cluster.jobs", "poeconomy_assets.definitions"])
    return context


def run_many(
    instance: dg.DagsterInstance,
    job: str,
    partitions: Iterable[str | None],
    run_config: dict | None = None,
    max_concurrent_runs: int = 4,
    tags: dict[str, str] | None = None,
    on_done: Callable[[RunOutcome], None] | None = None,
) -> list[RunOutcome]:
    """One run of ``job`` per partition, at most ``max_concurrent_runs`` at a time (each in a run process of
    its own, started fresh); returns every outcome in the order given, failed runs included."""
    partitions = list(partitions)
    if len(partitions) == 1 or max_concurrent_runs <= 1:
        outcomes = [run_one(instance, job, p, run_config, tags) for p in partitions]
        for outcome in outcomes if on_done else ():
            on_done(outcome)
        return outcomes
    with ProcessPoolExecutor(
        max_workers=min(max_concurrent_runs, len(partitions)),
        mp_context=_context(),
        initializer=_open_instance,
        initargs=(instance.get_ref(),),
    ) as pool:
        futures = [pool.submit(_run_in_process, job, p, run_config, tags) for p in partitions]
        for future in futures if on_done else ():
            on_done(future.result())
        return [f.result() for f in futures]
