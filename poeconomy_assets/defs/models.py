"""The training graph: one pooled (cross-currency) model per horizon, then one model per currency × horizon.

``pooled_models`` [horizon] runs the horizon's Optuna search once and stores the result; every
``price_models`` [currency × horizon] partition reads it through a partition mapping and only fits the
currency's own scope and picks. So a backfill of all ``price_models`` partitions, in any number of runs and
processes, searches once per horizon, and no model depends on what another run happened to cache.
"""

import resource
import time
import warnings
from collections.abc import Callable
from typing import Any, Literal

import dagster as dg
import polars as pl

from poeconomy_assets.cluster.celery_config import TRAINING, queue_tags
from poeconomy_assets.core.models.ensemble import train_currency_model, train_pooled_model
from poeconomy_assets.defs.metadata import currency_horizon, metric
from poeconomy_assets.defs.partitions import (
    currency_horizon_partitions,
    horizon_partitions,
    split_currency_horizon,
)
from poeconomy_assets.resources.model_store import ModelStore
from poeconomy_assets.resources.optuna_studies import OptunaStudies

# Every currency × horizon partition reads the pooled model of its own horizon.
with warnings.catch_warnings(category=dg.BetaWarning, action="ignore"):  # beta in 1.13, stable in use
    BY_HORIZON = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="horizon")

ProfileName = Literal["test", "development", "production"]  # the keys of core.models.ensemble.PROFILES


class PooledTrainingConfig(dg.Config):
    """How hard the pooled search works: `test` (seconds), `development` (minutes), `production` (thorough).
    Each currency's model follows the profile and seed of its horizon's pooled model."""

    profile: ProfileName = "test"
    seed: int = 0
    optuna_storage_url: str = ""  # a database URL: workers share the search's studies; empty: in memory


class TrainingConfig(dg.Config):
    """Left empty, a currency's model follows its pooled model's profile and seed; set, they must agree."""

    profile: str | None = None  # one of ProfileName (Dagster config cannot make an optional Literal)
    seed: int | None = None


def horizon_progress(instance: dg.DagsterInstance, partition_key: str, horizon: str) -> str:
    """"k/n models of <horizon> trained since its pooled model (t s, about s left)": the progress of a backfill
    or demo as one run sees it, from the instance (every run reports it the same way, wherever it runs)."""
    pooled = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("pooled_models"), asset_partitions=[horizon]), limit=1).records
    if not pooled:
        return ""
    since = pooled[0]
    trained = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("price_models"), after_storage_id=since.storage_id),
        limit=10_000).records
    done = {r.partition_key for r in trained if str(r.partition_key).endswith(f"|{horizon}")} | {partition_key}
    total = max(len(instance.get_dynamic_partitions("currency")), len(done))
    elapsed = max(time.time() - since.timestamp, 0.0)
    left = elapsed / len(done) * (total - len(done))
    return (f"{len(done)}/{total} models of {horizon} trained since pooled_models[{horizon}] "
            f"({elapsed:.0f}s, about {left:.0f}s left)")


def training_asset(**asset_args: Any) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """``@dg.asset`` for a model-training step: group ``models``, the ``training`` pool (its slots cap training
    steps across all runs) and, on Celery (deploy/celery), the ``training`` queue, apart from ingestion."""
    return dg.asset(group_name="models", pool="training", op_tags=queue_tags(TRAINING), **asset_args)


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@training_asset(
    partitions_def=horizon_partitions,
    ins={"currency_features": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())},
    kinds={"lightgbm", "xgboost", "optuna"},
)
def pooled_models(
    context: dg.AssetExecutionContext,
    config: PooledTrainingConfig,
    currency_features: pl.DataFrame,
    model_store: ModelStore,
    optuna_studies: OptunaStudies,
) -> dg.MaterializeResult[dict]:
    """The horizon's cross-currency model, its Optuna search included: the one search of the horizon,
    shared by every currency's model. The stored value is its manifest."""
    horizon = context.partition_key
    context.log.info(f"pooled {horizon}: searching on {currency_features.height} feature rows "
                     f"({currency_features['currency'].n_unique()} currencies), profile {config.profile}")
    pooled = train_pooled_model(currency_features, horizon, profile=config.profile, seed=config.seed,
                                storage=config.optuna_storage_url or optuna_studies.storage())
    manifest = model_store.save_pooled(pooled)
    scores = pooled.scope.scores
    context.log.info(f"pooled {horizon}: {pooled.trials} search trials in {pooled.seconds:.1f}s, "
                     f"validation MASE {', '.join(f'{k} {v:.3f}' for k, v in scores.items())}")
    return dg.MaterializeResult(
        value=manifest,
        metadata={
            "horizon": horizon,
            "profile": pooled.profile.name,
            "seed": pooled.seed,
            "searches": 1,  # one Optuna search (per searchable family) per materialization
            "search_trials": pooled.trials,
            "family_validation_mase": dg.MetadataValue.json({k: round(v, 4) for k, v in scores.items()}),
            "params": dg.MetadataValue.json(pooled.scope.params),
            "currencies": len(pooled.currency_codes),
            "training_rows": int(pooled.data_version.split("-")[0]),  # rows with a known target
            "validation_rows": pooled.scope.oof.height,
            "features": len(pooled.feature_names),
            "data_version": pooled.data_version,
            "artifact_dir": dg.MetadataValue.path(str(model_store.pooled_directory(horizon))),
            "wall_seconds": round(pooled.seconds, 2),
            "peak_rss_mb": _peak_rss_mb(),
        },
    )


@training_asset(
    partitions_def=currency_horizon_partitions,
    ins={
        # Pooled models and the own-vs-pooled validation learn from every currency's features.
        "currency_features": dg.AssetIn(partition_mapping=dg.AllPartitionMapping()),
        "pooled_models": dg.AssetIn(partition_mapping=BY_HORIZON),
    },
    kinds={"lightgbm", "xgboost", "scikitlearn"},
)
def price_models(
    context: dg.AssetExecutionContext,
    config: TrainingConfig,
    currency_features: pl.DataFrame,
    pooled_models: dict,
    model_store: ModelStore,
) -> dg.MaterializeResult[dict]:
    """A trained model predicting this currency's log return over the horizon; the stored value is its manifest."""
    currency, horizon = split_currency_horizon(context.partition_key)
    started = time.perf_counter()
    pooled = model_store.load_pooled(horizon)  # sha256 checked against its own manifest
    if pooled_models.get("files") != model_store.pooled_manifest(horizon).get("files"):
        raise RuntimeError(f"the stored pooled {horizon} model is not the one pooled_models[{horizon}] last "
                           "recorded (replaced outside Dagster?): materialize pooled_models again")
    model = train_currency_model(currency_features, currency, horizon, profile=config.profile, seed=config.seed,
                                 pooled=pooled)
    manifest = model_store.save(model)
    seconds = time.perf_counter() - started
    m = model.metrics
    if model.info["data_version"] != pooled.data_version:
        context.log.warning(f"pooled {horizon} model was trained on other features ({pooled.data_version}, now "
                            f"{model.info['data_version']}): materialize pooled_models[{horizon}] to refresh it")
    context.log.info(
        f"{currency} {horizon}: validation MAE {m['mae_model']:.4g} vs persistence {m['mae_persistence']:.4g} "
        f"(relative MAE {m['mase']:.3f}, {int(m['n_val'])} days, scope {model.info['scope']}) in {seconds:.1f}s"
    )
    if progress := horizon_progress(context.instance, str(context.partition_key), horizon):
        context.log.info(f"progress: {progress}")
    comparison = (
        "| on held-out days | model | persistence |\n|---|---|---|\n"
        f"| MAE (chaos) | {m['mae_model']:.4g} | {m['mae_persistence']:.4g} |\n"
        f"| RMSE (chaos) | {m.get('rmse_model', float('nan')):.4g} | {m.get('rmse_persistence', float('nan')):.4g} |\n"
        f"| relative MAE | {m['mase']:.3f} | 1.000 |\n"
        f"| direction accuracy | {m.get('direction_accuracy', float('nan')):.1%} | – |\n"
        f"| days | {int(m['n_val'])} | {int(m['n_val'])} |"
    )
    return dg.MaterializeResult(
        value=manifest,
        metadata={
            **currency_horizon(currency, horizon),
            "profile": pooled.profile.name,
            "mase": metric(m["mase"]),  # relative MAE: model MAE / persistence MAE
            "mae_model": metric(m["mae_model"], 6),
            "mae_persistence": metric(m["mae_persistence"], 6),
            "validation_days": int(m["n_val"]),
            "model_vs_persistence": dg.MetadataValue.md(comparison),
            "scope": model.info["scope"],
            "scope_reason": model.info["scope_reason"],
            "searches": 0,  # the search is pooled_models' (see pooled_data_version)
            "search_trials": int(m["trials"]),  # of the pooled search this model was built from
            "pooled_data_version": pooled.data_version,
            "ensemble_weights": dg.MetadataValue.json(model.weights),
            # per league phase, the factor on the blended log return: < 1 shrinks toward persistence, > 1 amplifies
            "return_scale_by_phase": dg.MetadataValue.json(model.return_scale),
            "params": dg.MetadataValue.json(model.params),
            "features": len(model.feature_names),
            "artifact_dir": dg.MetadataValue.path(str(model_store.directory(currency, horizon))),
            "wall_seconds": round(seconds, 2),
            "peak_rss_mb": _peak_rss_mb(),
        },
    )
