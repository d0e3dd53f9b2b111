"""The main job on the cluster: the whole graph, stage by stage, each stage's runs launched together so their
steps spread over the Celery workers (``poeconomy cluster demo``, ``make demo-celery``)."""

import time
from collections.abc import Callable

import dagster as dg
import polars as pl

from poeconomy_assets.cluster.runs import RunOutcome, run_many, run_one
from poeconomy_assets.core.keys import key_from_name
from poeconomy_assets.core.schemas import HORIZONS
from poeconomy_assets.defs.resources import poeconomy_home
from poeconomy_assets.demo.graph_runner import GraphRun, GraphRunError


def _check(outcomes: list[RunOutcome], result: GraphRun) -> None:
    result.runs += len(outcomes)
    for outcome in outcomes:
        result.failed_checks += outcome.failed_checks
        if not outcome.success:
            raise GraphRunError(f"{outcome.job} [{outcome.partition or 'unpartitioned'}] failed "
                                f"(run {outcome.run_id}: see it in the UI or `dagster run logs`)")


def model_keys(currencies: list[str]) -> list[str]:
    return [str(dg.MultiPartitionKey({"currency": c, "horizon": h})) for c in currencies for h in HORIZONS]


def materialize_graph_on_cluster(instance: dg.DagsterInstance, run_config: dict | None = None,
                                 max_concurrent_runs: int = 4, log: Callable[[str], None] = print,
                                 tags: dict[str, str] | None = None) -> GraphRun:
    """history → daily prices → features → every model → every forecast → reports → scorecard, as
    ``demo.graph_runner.materialize_graph`` does in process; raises GraphRunError on a failed run."""
    started = time.perf_counter()
    result = GraphRun()

    def stage(job: str, partitions: list, config: dict | None = None) -> None:
        done = []

        def progress(outcome: RunOutcome) -> None:
            done.append(outcome)
            if len(partitions) > 4 and (len(done) % 10 == 0 or len(done) == len(partitions)):
                log(f"    {len(done)}/{len(partitions)} {job} runs ({time.perf_counter() - started:.0f}s)")

        _check(run_many(instance, job, partitions, config, max_concurrent_runs, tags, progress), result)

    log("1/6 importing past leagues (poe_ninja_history)")
    _check([run_one(instance, "history_job", None, tags=tags)], result)
    # Only what this import found: the instance may hold partitions of other dump directories.
    history = pl.read_parquet(poeconomy_home() / "data" / "poe_ninja_history" / "__all__.parquet",
                              columns=["league", "currency"])
    result.leagues = sorted(key_from_name(x) for x in history["league"].unique())
    result.currencies = sorted(key_from_name(x) for x in history["currency"].unique())
    log(f"2/6 daily prices for {len(result.leagues)} leagues")
    stage("daily_prices_job", result.leagues)
    log(f"3/6 features for {len(result.currencies)} currencies")
    stage("features_job", result.currencies)
    keys = model_keys(result.currencies)
    log(f"4/6 training {len(keys)} currency × horizon models on the workers, then forecasting with them")
    # One pooled search per horizon first (its profile from the models' config): every model is built from it.
    pooled_config = {"ops": {"pooled_models": run_config["ops"]["price_models"]}} \
        if run_config and "price_models" in run_config.get("ops", {}) else None
    stage("pooled_model_job", list(HORIZONS), pooled_config)
    stage("model_job", keys, run_config)
    stage("forecast_job", keys)
    log(f"5/6 investment reports for {len(result.leagues)} leagues")
    stage("report_job", result.leagues)
    log("6/6 scoring the live league's past forecasts (forecast_scorecard)")
    stage("scorecard_job", [None])
    result.seconds = time.perf_counter() - started
    return result
