"""The three model families of the ensemble: how each is fitted, searched, saved and loaded.

All predict a log return from a feature frame. LightGBM and XGBoost minimise absolute error (the
forecasts are scored by MAE); RandomForest averages squared-error trees on winsorised targets.
Files are each library's native text/JSON format (RandomForest is LightGBM's ``rf`` mode): no file a
model folder holds is a pickle, so loading one never runs code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

if (
    TYPE_CHECKING
):  # the libraries load on first fit or load: importing this module (the code location) stays light
    import lightgbm as lgb
    import optuna
    import xgboost as xgb

# One thread per fit. The 2-core machines this runs on are shared, and with more runnable threads
# than cores OpenMP's spin-waiting makes a 2-thread LightGBM fit on ~1.5k rows cost 36 s of CPU and
# 214 s of wall clock instead of 0.5 s and 1.7 s with one thread (measured 2026-11-25, load ~12).
# Idle, the second thread saves at most ~40% on the largest (pooled) fits.
THREADS = 1


def _matrix(frame: pl.DataFrame | np.ndarray) -> np.ndarray:
    # C order: polars hands out column-major arrays, which send XGBoost down a copy path that costs
    # milliseconds on a single-row forecast.
    array = frame if isinstance(frame, np.ndarray) else frame.to_numpy()
    return np.ascontiguousarray(array, dtype=np.float64)


@dataclass(frozen=True)
class ModelFamily:
    name: str
    file_name: str
    fit: Callable[[pl.DataFrame, np.ndarray, dict, int], Any]
    predict: Callable[[Any, pl.DataFrame], np.ndarray]
    load: Callable[[Path], Any]
    defaults: Callable[[], dict]
    suggest: Callable[[optuna.Trial], dict]
    # Estimated single-core CPU seconds of one fit with these parameters on this many rows: what the
    # search budget counts, so a search is the same on every run, machine and load (see core.tuning).
    cost: Callable[[dict, int], float]
    searchable: bool = True

    def save(self, model: Any, path: Path) -> None:
        """Write ``model`` in its library's native text/JSON format (each family's model has ``save_model``)."""
        model.save_model(str(path))


# Cost models: a fitted line per tree on ~17.5k pooled rows x ~70 features, measured on this project's
# 2-core machine (2026-11-25); cost grows about linearly with rows. Estimates, not timings: they only
# have to rank parameter sets and make budgets comparable.
REFERENCE_ROWS = 17_500


def _per_tree_cost(intercept_ms: float, slope_ms: float, parameter: str) -> Callable[[dict, int], float]:
    """A boosted fit's cost: milliseconds per tree on REFERENCE_ROWS rows, a line in one parameter (leaves,
    depth), times the trees, scaled by the rows."""

    def cost(p: dict, rows: int) -> float:
        return rows / REFERENCE_ROWS * p["n_estimators"] * (intercept_ms + slope_ms * p[parameter]) / 1000

    return cost


def _lightgbm_booster_family(**family: Any) -> ModelFamily:
    """A family whose model is a LightGBM Booster (gradient boosting, or the ``rf`` random-forest mode): saved
    as LightGBM's plain-text model, loaded from it, and predicting on one thread (forecasts are a few rows)."""
    return ModelFamily(
        predict=lambda model, x: model.predict(_matrix(x), num_threads=1),
        load=_lgb_load,
        **family,
    )


def _lgb_load(path: Path) -> lgb.Booster:
    import lightgbm as lgb

    return lgb.Booster(model_file=str(path))


# LightGBM -----------------------------------------------------------------------------------------
def _lgb_defaults() -> dict:
    return {
        "num_leaves": 20,
        "learning_rate": 0.03,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "min_child_samples": 40,
        "lambda_l1": 0.0,
        "lambda_l2": 1.0,
        "n_estimators": 300,
    }


def _lgb_suggest(trial: optuna.Trial) -> dict:
    return {
        "num_leaves": trial.suggest_int("num_leaves", 20, 150, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "min_child_samples": trial.suggest_int("min_child_samples", 10, 100),
        "lambda_l1": trial.suggest_float("lambda_l1", 0.0, 2.0),
        "lambda_l2": trial.suggest_float("lambda_l2", 0.0, 2.0),
        "n_estimators": trial.suggest_int("n_estimators", 100, 500, step=50),
    }


def _lgb_fit(x: pl.DataFrame, y: np.ndarray, params: dict, seed: int) -> lgb.Booster:
    import lightgbm as lgb

    p = dict(params)
    rounds = int(p.pop("n_estimators"))
    p.update(
        objective="l1",
        bagging_freq=1,
        verbose=-1,
        seed=seed,
        num_threads=THREADS,
        max_bin=63,
        min_data_in_leaf=p.pop("min_child_samples"),
        deterministic=True,
        force_row_wise=True,
    )
    return lgb.train(p, lgb.Dataset(_matrix(x), y, free_raw_data=True), num_boost_round=rounds)


LIGHTGBM = _lightgbm_booster_family(
    name="lightgbm",
    file_name="lightgbm.txt",
    fit=_lgb_fit,
    defaults=_lgb_defaults,
    suggest=_lgb_suggest,
    # 4.5 ms per 20-leaf tree, 6.5 ms per 46-leaf tree
    cost=_per_tree_cost(3.0, 0.075, "num_leaves"),
)


# XGBoost ------------------------------------------------------------------------------------------
def _xgb_defaults() -> dict:
    return {
        "max_depth": 4,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "n_estimators": 300,
        "learning_rate": 0.03,
    }


def _xgb_suggest(trial: optuna.Trial) -> dict:
    return {
        "max_depth": trial.suggest_int("max_depth", 3, 10),
        "subsample": trial.suggest_float("subsample", 0.6, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.6, 1.0),
        "n_estimators": trial.suggest_int("n_estimators", 100, 500, step=50),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
    }


def _xgb_fit(x: pl.DataFrame, y: np.ndarray, params: dict, seed: int) -> xgb.XGBRegressor:
    import xgboost as xgb

    model = xgb.XGBRegressor(
        objective="reg:absoluteerror",
        tree_method="hist",
        max_bin=64,
        n_jobs=THREADS,
        random_state=seed,
        **params,
    )
    model.fit(_matrix(x), y)
    model.get_booster().set_param({"nthread": 1})  # forecasts are a few rows: threads only add latency
    return model


def _xgb_load(path: Path) -> xgb.XGBRegressor:
    import xgboost as xgb

    model = xgb.XGBRegressor()
    model.load_model(str(path))
    model.get_booster().set_param({"nthread": 1})
    return model


XGBOOST = ModelFamily(
    name="xgboost",
    file_name="xgboost.json",
    fit=_xgb_fit,
    predict=lambda model, x: model.get_booster().inplace_predict(_matrix(x)),
    load=_xgb_load,
    defaults=_xgb_defaults,
    suggest=_xgb_suggest,
    # 4.4 ms per depth-3 tree, 5.2 ms at depth 4, 7.4 ms at depth 6
    cost=_per_tree_cost(2.3, 0.85, "max_depth"),
)


# RandomForest -------------------------------------------------------------------------------------
# LightGBM's random-forest mode: bagged, un-boosted trees averaged, saved as LightGBM's plain-text model. The
# file holds numbers only, so loading it cannot run code (the sklearn forest this replaced was a pickle).

# Rows each tree sees at most: on the whole market (~180k pooled rows) a fifth is 36k rows a tree and the
# forest cost more than both boosters together; 10k rows keep it the cheap, low-variance member.
FOREST_ROWS_PER_TREE = 10_000


def _rf_defaults() -> dict:
    # Shallow-ish trees on row and column subsamples: a forest here is the low-variance member of the
    # blend, and full-depth trees would cost more than the two boosters together.
    return {
        "n_estimators": 50,
        "min_samples_leaf": 20,
        "max_features": 0.3,
        "max_samples": 0.2,
        "max_depth": 10,
    }


def _forest_rows(params: dict, rows: int) -> float:
    return min(rows * params.get("max_samples", 1.0), FOREST_ROWS_PER_TREE)


def _rf_fit(x: pl.DataFrame, y: np.ndarray, params: dict, seed: int) -> lgb.Booster:
    import lightgbm as lgb

    low, high = np.quantile(y, [0.02, 0.98])  # squared error would chase launch-day outliers
    fraction = min(params["max_samples"], FOREST_ROWS_PER_TREE / max(len(y), 1))
    p = {
        "boosting": "rf",
        "objective": "regression",
        "bagging_fraction": fraction,
        "bagging_freq": 1,
        "feature_fraction_bynode": params["max_features"],
        "max_depth": params["max_depth"],
        "num_leaves": min(2 ** params["max_depth"], 1024),
        "min_data_in_leaf": params["min_samples_leaf"],
        "lambda_l2": 0.0,
        "verbose": -1,
        "seed": seed,
        "num_threads": THREADS,
        "deterministic": True,
        "force_row_wise": True,
    }
    data = lgb.Dataset(_matrix(x), np.clip(y, low, high), free_raw_data=True)
    return lgb.train(p, data, num_boost_round=int(params["n_estimators"]))


RANDOM_FOREST = _lightgbm_booster_family(
    name="random_forest",
    file_name="random_forest.txt",
    fit=_rf_fit,
    defaults=_rf_defaults,
    suggest=lambda trial: _rf_defaults(),
    # 1.8 s for 50 trees of 3,500 rows (a fifth of REFERENCE_ROWS; measured with scikit-learn's forest)
    cost=lambda p, rows: _forest_rows(p, rows) / (0.2 * REFERENCE_ROWS) * p["n_estimators"] * 0.036,
    searchable=False,
)

FAMILIES = {f.name: f for f in (LIGHTGBM, XGBOOST, RANDOM_FOREST)}
FALLBACK_WEIGHTS = {"lightgbm": 0.5, "xgboost": 0.3, "random_forest": 0.2}
