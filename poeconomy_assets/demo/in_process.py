"""Materialize an asset selection in this process, as Dagster's asset backfill would: parents first (Dagster's
own toposort of the declared graph), each asset's partitions as range runs sized by its backfill policy.

This is the fast path for tests and ``poeconomy demo --in-process`` (no webserver, no daemon, no process per
run). What a user launches, ``poeconomy demo`` included, goes through the daemon instead (``demo/dagster_dev.py``):
both run the same assets over the same partitions, so they produce the same models and forecasts.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg

from poeconomy_assets.defs.batching import PARTITION, RANGE_END, RANGE_START
from poeconomy_assets.defs.selection import selected_keys


class GraphRunError(RuntimeError):
    """A run of the graph failed; the message names the asset, the partitions and why."""


@dataclass
class GraphRun:
    """What materializing a selection did."""

    runs: int = 0
    seconds: float = 0.0
    run_ids: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    warned_checks: list[str] = field(default_factory=list)
    evaluations: list = field(
        default_factory=list
    )  # every check evaluation (core.report.check_summary counts them)


def partition_chunks(
    all_keys: list[str], wanted: list[str], policy: dg.BackfillPolicy | None, one_run: bool
) -> list[list[str]]:
    """``wanted`` cut into runs as a backfill cuts them: key ranges of the partitions definition's order
    (``all_keys``), each at most the backfill policy's size (unless ``one_run``). A range of ``currency|horizon``
    keys is a rectangle (currencies from..to × horizons from..to), so unless one run takes every key, such keys
    are cut one horizon at a time (the horizon's work is done once per run anyway)."""
    size = None if one_run or policy is None else policy.max_partitions_per_run
    if policy is None and not one_run:
        size = 1
    if one_run and set(wanted) == set(all_keys):
        return [list(all_keys)]
    if all_keys and "|" in all_keys[0]:
        horizons = list(dict.fromkeys(k.split("|")[1] for k in all_keys))
        return [
            chunk
            for h in horizons
            for chunk in _ranges([k for k in all_keys if k.endswith(f"|{h}")], wanted, size)
        ]
    return _ranges(all_keys, wanted, size)


def _ranges(ordered: list[str], wanted: list[str], size: int | None) -> list[list[str]]:
    chosen = set(wanted)
    runs: list[list[str]] = [[]]
    for key in ordered:
        if key in chosen:
            runs[-1].append(key)
        elif runs[-1]:
            runs.append([])
    chunks = []
    for run in (r for r in runs if r):
        step = size or len(run)
        chunks += [run[i : i + step] for i in range(0, len(run), step)]
    return chunks


def range_tags(chunk: list[str]) -> dict[str, str]:
    if len(chunk) == 1:
        return {PARTITION: chunk[0]}
    return {RANGE_START: chunk[0], RANGE_END: chunk[-1]}


def materialize_in_process(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    selection: dg.AssetSelection,
    run_config: dict | None = None,
    log: Callable[[str], None] = print,
    one_run_per_asset: bool = True,
    tags: dict[str, str] | None = None,
    partitions: dict[dg.AssetKey, list[str]] | None = None,
    log_level: str = "WARNING",
) -> GraphRun:
    """Every partition of every asset in ``selection`` (or only ``partitions[asset]`` where given), parents first.
    ``one_run_per_asset`` runs each asset's partitions in one range run (fastest in one process); otherwise
    they are cut as the asset's backfill policy cuts them. ``log_level`` INFO prints the assets' own lines (progress
    every 15 s in long steps). Raises GraphRunError on the first failed run."""
    started = time.perf_counter()
    outcome = GraphRun()
    job = defs.resolve_implicit_global_asset_job_def()
    graph = defs.resolve_asset_graph()
    order = selected_keys(defs, selection)
    for number, key in enumerate(order, start=1):
        node = graph.get(key)
        all_keys = (
            []
            if node.partitions_def is None
            else [str(k) for k in node.partitions_def.get_partition_keys(dynamic_partitions_store=instance)]
        )
        keys = [str(k) for k in partitions[key]] if partitions is not None and key in partitions else all_keys
        if node.partitions_def is not None and not keys:
            log(f"{number}/{len(order)} {key.to_user_string()}: no partitions, skipped")
            continue
        chunks = partition_chunks(all_keys, keys, node.backfill_policy, one_run_per_asset) if keys else [[]]
        asset_started = time.perf_counter()
        for chunk in chunks:
            config = {
                "ops": {k: v for k, v in (run_config or {}).get("ops", {}).items() if k == key.path[-1]}
            }
            result = job.execute_in_process(
                instance=instance,
                asset_selection=[key],
                run_config={"loggers": {"console": {"config": {"log_level": log_level}}}, **config},
                tags={**(tags or {}), **(range_tags(chunk) if chunk else {})},
                raise_on_error=False,
            )
            outcome.runs += 1
            outcome.run_ids.append(result.run_id)
            record_checks(outcome, result.get_asset_check_evaluations(), chunk)
            if not result.success:
                raise GraphRunError(explain(key.to_user_string(), chunk, result))
        what = f"{len(keys)} partitions in {len(chunks)} run(s)" if keys else "1 run"
        log(
            f"{number}/{len(order)} {key.to_user_string()}: {what} ({time.perf_counter() - asset_started:.1f}s)"
        )
    outcome.seconds = time.perf_counter() - started
    return outcome


def materialize_subset(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    subset: object,
    log: Callable[[str], None] = lambda _: None,
) -> GraphRun:
    """The partitions of an asset backfill request (a sensor's ``RunRequest.asset_graph_subset``), in process."""
    partitions: dict[dg.AssetKey, list[str]] = {}
    for item in subset.iterate_asset_partitions():  # type: ignore[attr-defined]
        partitions.setdefault(item.asset_key, []).append(item.partition_key)
    selection = dg.AssetSelection.assets(*partitions)
    return materialize_in_process(defs, instance, selection, log=log, partitions=partitions)


def record_checks(outcome: GraphRun, evaluations: list, chunk: list[str]) -> None:
    """Failed checks by severity: an ERROR fails the graph; a WARN (the scorecard's drift check) is reported."""
    outcome.evaluations += list(evaluations)
    where = f"[{chunk[0]}{' … ' + chunk[-1] if len(chunk) > 1 else ''}]" if chunk else ""
    for evaluation in evaluations:
        if evaluation.passed:
            continue
        name = f"{evaluation.check_name} {where}".strip()
        if evaluation.severity == dg.AssetCheckSeverity.WARN:
            outcome.warned_checks.append(name)
        else:
            outcome.failed_checks.append(name)


def explain(asset: str, chunk: list[str], result: dg.ExecuteInProcessResult) -> str:
    where = f"{chunk[0]} … {chunk[-1]}" if len(chunk) > 1 else (chunk[0] if chunk else "unpartitioned")
    lines = [f"{asset} [{where}] failed (run {result.run_id})"]
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.passed:
            continue
        cases = evaluation.metadata.get("failure_cases")
        if isinstance(cases, dg.TableMetadataValue):  # one line per row (the consistency check's problems)
            text = "\n".join(
                "    " + ", ".join(f"{k}: {v}" for k, v in r.data.items()) for r in cases.records
            )
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


def ops_config(job: dg.JobDefinition, run_config: dict | None) -> dict:
    """The part of ``run_config`` that configures ops of ``job`` (a run rejects config for ops it lacks)."""
    ops = (run_config or {}).get("ops", {})
    names = {node.name for node in job.graph.nodes}
    return {"ops": {k: v for k, v in ops.items() if k in names}} if ops else {}
