"""One forecasting model per currency × horizon, compared with persistence on held-out days."""

import resource
import time
from typing import Literal

import dagster as dg
import polars as pl

from poeconomy_assets.cluster.celery_config import TRAINING, queue_tags
from poeconomy_assets.core.models.ensemble import train_currency_model
from poeconomy_assets.defs.metadata import currency_horizon, metric
from poeconomy_assets.defs.partitions import currency_horizon_partitions, split_currency_horizon
from poeconomy_assets.resources.model_store import ModelStore
from poeconomy_assets.resources.optuna_studies import OptunaStudies

ProfileName = Literal["test", "development", "production"]  # the keys of core.models.ensemble.PROFILES


class TrainingConfig(dg.Config):
    """How hard to search: `test` (seconds), `development` (minutes), `production` (thorough)."""

    profile: ProfileName = "test"
    seed: int = 0


@dg.asset(
    group_name="models",
    partitions_def=currency_horizon_partitions,
    # Pooled (cross-currency) models learn from every currency's features.
    ins={"currency_features": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())},
    kinds={"lightgbm", "xgboost", "scikitlearn"},
    pool="training",
    op_tags=queue_tags(TRAINING),  # on Celery (deploy/celery): the `training` queue, apart from ingestion
)
def price_models(
    context: dg.AssetExecutionContext,
    config: TrainingConfig,
    currency_features: pl.DataFrame,
    model_store: ModelStore,
    optuna_studies: OptunaStudies,
) -> dg.MaterializeResult[dict]:
    """A trained model predicting this currency's log return over the horizon; the stored value is its manifest."""
    currency, horizon = split_currency_horizon(context.partition_key)
    started = time.perf_counter()
    model = train_currency_model(currency_features, currency, horizon, profile=config.profile, seed=config.seed,
                                 storage=optuna_studies.storage())
    manifest = model_store.save(model)
    seconds = time.perf_counter() - started
    m = model.metrics
    context.log.info(
        f"{currency} {horizon}: validation MAE {m['mae_model']:.4g} vs persistence {m['mae_persistence']:.4g} "
        f"(relative MAE {m['mase']:.3f}, {int(m['n_val'])} days) in {seconds:.1f}s"
    )
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
            "profile": config.profile,
            "mase": metric(m["mase"]),  # relative MAE: model MAE / persistence MAE
            "mae_model": metric(m["mae_model"], 6),
            "mae_persistence": metric(m["mae_persistence"], 6),
            "validation_days": int(m["n_val"]),
            "model_vs_persistence": dg.MetadataValue.md(comparison),
            "scope": model.info["scope"],
            "scope_reason": model.info["scope_reason"],
            "search_trials": int(m["trials"]),
            "ensemble_weights": dg.MetadataValue.json(model.weights),
            # per league phase, the factor on the blended log return: < 1 shrinks toward persistence, > 1 amplifies
            "return_scale_by_phase": dg.MetadataValue.json(model.return_scale),
            "params": dg.MetadataValue.json(model.params),
            "features": len(model.feature_names),
            "artifact_dir": dg.MetadataValue.path(str(model_store.directory(currency, horizon))),
            "wall_seconds": round(seconds, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        },
    )
