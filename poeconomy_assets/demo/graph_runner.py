"""Materialize the whole graph partition by partition, in dependency order, in this process.

This is what ``poeconomy demo`` runs: every run is recorded in the Dagster instance, so the web UI
shows the same history as if each run had been launched from it.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

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


def materialize_graph(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    run_config: dict | None = None,
    log: Callable[[str], None] = print,
) -> GraphRun:
    """history → daily prices (per league) → features (per currency) → models, then forecasts
    (per currency × horizon) → report (per league) → scorecard. Raises on the first failed run; a failed
    drift check is recorded in ``failed_checks`` like any other check."""
    started = time.perf_counter()
    outcome = GraphRun()

    def run(job_name: str, partition_key: str | None = None, config: dict | None = None) -> dg.ExecuteInProcessResult:
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}  # the UI keeps every event
        result = defs.resolve_job_def(job_name).execute_in_process(
            instance=instance, partition_key=partition_key, run_config={**quiet, **(config or {})}, raise_on_error=False
        )
        outcome.runs += 1
        # A WARN-level failure (the scorecard's drift check) is a signal to retrain, not a broken run.
        failed = [e for e in result.get_asset_check_evaluations()
                  if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]
        outcome.failed_checks += [f"{e.check_name} [{partition_key}]" for e in failed]
        if not result.success:
            raise GraphRunError(_explain(job_name, partition_key, result, failed))
        return result

    log("1/6 importing past leagues (poe_ninja_history)")
    history = run("history_job").output_for_node("poe_ninja_history")
    # Only what this import found: the instance may hold partitions of other dump directories.
    outcome.leagues = sorted(key_from_name(x) for x in history["league"].unique())
    # ... and of its items, those with enough history to forecast (poe_ninja_history registers only those).
    eligible = set(instance.get_dynamic_partitions("currency"))
    outcome.currencies = sorted(k for k in (key_from_name(x) for x in history["currency"].unique()) if k in eligible)
    log(f"2/6 daily prices for {len(outcome.leagues)} leagues")
    for league in outcome.leagues:
        run("daily_prices_job", league)
    log(f"3/6 features for {len(outcome.currencies)} currencies")
    for currency in outcome.currencies:
        run("features_job", currency)
    total = len(outcome.currencies) * len(HORIZONS)
    keys = [str(dg.MultiPartitionKey({"currency": c, "horizon": h})) for c in outcome.currencies for h in HORIZONS]
    log(f"4/6 training {total} currency × horizon models, then forecasting with them")
    # Every model first: a forecast's intervals pool the walk-forward residuals of every currency's model.
    for done, key in enumerate(keys, start=1):
        run("model_job", key, run_config)
        if done % 10 == 0 or done == total:
            log(f"    {done}/{total} models ({time.perf_counter() - started:.0f}s)")
    for key in keys:
        run("forecast_job", key)
    log(f"5/6 investment reports for {len(outcome.leagues)} leagues")
    for league in outcome.leagues:
        run("report_job", league)
    log("6/6 scoring the live league's past forecasts (forecast_scorecard)")
    run("scorecard_job")
    outcome.seconds = time.perf_counter() - started
    return outcome


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
        lines.append(f"  check {evaluation.check_name} failed:\n{cases.value if cases else ''}")
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error:
            error = event.step_failure_data.error
            while error.cause is not None:  # the user's exception is the innermost cause
                error = error.cause
            lines.append(f"  step {event.step_key}: {error.message.strip()}")
    return "\n".join(lines)
