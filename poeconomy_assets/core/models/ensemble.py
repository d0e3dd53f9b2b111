"""Per currency × horizon forecasting models: a LightGBM + XGBoost + RandomForest ensemble of log returns.

For each currency and horizon two scopes compete on walk-forward validation by league:
- ``pooled``: one model trained on every currency's rows (currency as a feature): more data;
- ``own``: trained on this currency's rows only, with each family's regularised defaults (when it
  has enough history; otherwise the currency gets the pooled model and its metrics say so).
Within the winning scope the three families are weighted by inverse squared validation relative MAE (fallback
0.5/0.3/0.2), and the blended log return is multiplied by a *return scale* per league phase (launch
week, first month, later) that validation picks from RETURN_SCALE_GRID: below 1 it shrinks the forecast
toward persistence (a 0 log return), 1 leaves it, above 1 amplifies it (validation found the blend too
timid in that phase). On this data nearly all the signal is early in a league, and late-league moves are
best left to persistence (a small scale). Pooled work is shared by
the currencies of one horizon (cached in process).
"""

import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import polars as pl

from poeconomy_assets.core.evaluation.metrics import score_points
from poeconomy_assets.core.features.build import feature_columns, league_phase, target_column
from poeconomy_assets.core.models.artifacts import (
    ArtifactIntegrityError,
    clear_directory,
    read_verified_manifest,
    write_manifest,
)
from poeconomy_assets.core.models.families import FALLBACK_WEIGHTS, FAMILIES
from poeconomy_assets.core.models.tuning import tune_family, validation_relative_mae, walk_forward_folds
from poeconomy_assets.core.schemas import HORIZON_DAYS

__all__ = ["PROFILES", "ArtifactIntegrityError", "TrainedModel", "TrainingProfile", "train_currency_model"]

MIN_OWN_ROWS = 150  # below this a currency's own history is too short for its own model
# The return scales validation chooses from. Never exactly 0: a tiny factor keeps the forecast's direction
# while costing almost no accuracy. 1.25 is an amplification, not a shrinkage.
RETURN_SCALE_GRID = (0.05, 0.25, 0.5, 0.75, 1.0, 1.25)
PHASES = ("early", "mid", "late")  # the names of league_phase 0, 1, 2


@dataclass(frozen=True)
class TrainingProfile:
    name: str
    n_trials: int  # Optuna trials for LightGBM
    n_folds: int  # walk-forward validation leagues
    xgboost_trial_share: float = 0.4  # XGBoost is slower per fit: it gets this share of the trials
    # Cap on the LightGBM search of one scope in estimated single-core CPU seconds (XGBoost gets the same
    # share of it; see ModelFamily.cost): deterministic, so a backtest gives the same figures on every
    # run. Whichever of n_trials or this comes first ends the search; metrics record the trials run.
    search_budget_seconds: float | None = None


PROFILES = {
    "test": TrainingProfile("test", n_trials=3, n_folds=1),
    "development": TrainingProfile("development", n_trials=50, n_folds=3, search_budget_seconds=20.0),
    "production": TrainingProfile("production", n_trials=200, n_folds=5, search_budget_seconds=20.0),
}


@dataclass
class TrainedModel:
    currency: str
    horizon: str
    feature_names: list[str]
    members: dict[str, Any]
    weights: dict[str, float]
    return_scale: dict[str, float]  # per league phase: < 1 shrinks toward persistence, > 1 amplifies
    currency_codes: dict[str, int]
    metrics: dict[str, float]
    residuals: np.ndarray
    params: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    def predict(self, rows: pl.DataFrame) -> np.ndarray:
        """Predicted log return over the horizon for each feature row (built by ``build_features``)."""
        x = _feature_matrix(rows, self.feature_names, self.currency_codes)
        blend = np.zeros(x.shape[0])
        for name, weight in self.weights.items():
            if weight > 0:
                blend += weight * np.asarray(FAMILIES[name].predict(self.members[name], x), dtype=float)
        factors = np.array([self.return_scale[p] for p in PHASES])
        return factors[league_phase(rows["league_day"].to_numpy())] * blend

    def save(self, directory: Path) -> dict:
        """Native files (LightGBM text, XGBoost JSON, RandomForest joblib) + manifest with their sha256."""
        directory = clear_directory(Path(directory))
        files = []
        for name, model in self.members.items():
            FAMILIES[name].save(model, directory / FAMILIES[name].file_name)
            files.append(FAMILIES[name].file_name)
        np.save(directory / "residuals.npy", self.residuals)
        files.append("residuals.npy")
        return write_manifest(directory, files, {
            "currency": self.currency, "horizon": self.horizon, "features": self.feature_names,
            "weights": self.weights, "return_scale": self.return_scale, "currency_codes": self.currency_codes,
            "metrics": self.metrics, "params": self.params, "info": self.info,
            "data_version": self.info.get("data_version"),
        })

    @classmethod
    def load(cls, directory: Path) -> "TrainedModel":
        """Load after checking every file's sha256 against the manifest; nothing is parsed before."""
        directory = Path(directory)
        manifest = read_verified_manifest(directory)
        members = {
            family.name: family.load(directory / family.file_name)
            for family in FAMILIES.values()
            if family.file_name in manifest["files"]
        }
        return cls(
            currency=manifest["currency"], horizon=manifest["horizon"], feature_names=manifest["features"],
            members=members, weights=manifest["weights"],
            return_scale=manifest.get("return_scale", manifest.get("shrink")),  # "shrink" before the rename
            currency_codes=manifest["currency_codes"], metrics=manifest["metrics"],
            residuals=np.load(directory / "residuals.npy", allow_pickle=False), params=manifest["params"],
            info=manifest["info"],
        )


def _feature_matrix(rows: pl.DataFrame, names: list[str], codes: dict[str, int]) -> np.ndarray:
    """Model inputs as a C-ordered float matrix. A few rows (a live forecast) are read value by value:
    a polars query plan and a mixed-dtype to_numpy would cost more than the three models' predictions."""
    if rows.height > 16:
        return np.ascontiguousarray(_with_code(rows, codes).select(names).to_numpy(), dtype=np.float64)
    series = {s.name: s for s in rows.iter_columns()}
    currency = series["currency"].to_list()
    return np.array([[codes.get(currency[i], -1) if n == "currency_code" else series[n][i] for n in names]
                     for i in range(rows.height)], dtype=np.float64)


def _with_code(rows: pl.DataFrame, codes: dict[str, int]) -> pl.DataFrame:
    return rows.with_columns(
        pl.col("currency").replace_strict(codes, default=-1, return_dtype=pl.Int64).alias("currency_code")
    )


@dataclass
class _Scope:
    """Tuned parameters, out-of-fold predictions and final fits of one scope (pooled or own)."""

    params: dict[str, dict]
    scores: dict[str, float]
    oof: pl.DataFrame  # league, currency, date, league_day, price_chaos, target, pred_<family>
    members: dict[str, Any]
    trials: int


_POOLED_CACHE: dict[str, tuple[tuple, _Scope]] = {}  # horizon -> (fingerprint, scope): bounded memory


def _fit_scope(rows: pl.DataFrame, names: list[str], target: str, gap: int, profile: TrainingProfile, seed: int,
               storage: optuna.storages.BaseStorage | None, label: str, params: dict | None = None) -> _Scope | None:
    folds = walk_forward_folds(rows, profile.n_folds, gap)
    if not folds:
        return None
    scores, trials = {}, 0
    fold_predictions: dict[str, dict[str, np.ndarray]] = {name: {} for name in FAMILIES}
    if params is None:
        params = {}
        for family in FAMILIES.values():
            share = 1.0 if family.name == "lightgbm" else profile.xgboost_trial_share
            n = max(1, round(profile.n_trials * share))
            seconds = profile.search_budget_seconds * share if profile.search_budget_seconds else None
            study = f"{label}-{family.name}-{profile.name}-{seed}" if storage else None
            params[family.name], scores[family.name], ran = tune_family(
                family, folds, names, target, n, seed, storage, study, budget_seconds=seconds,
                predictions=fold_predictions[family.name])
            trials += ran if family.searchable else 0
    oof_parts = []
    for fold in folds:
        # The search already fitted the chosen parameters on every fold: reuse those predictions.
        preds = {}
        for name, family in FAMILIES.items():
            predicted = fold_predictions[name].get(fold.league)
            if predicted is None:
                train_x = fold.train.select(names).to_numpy().astype(np.float64)
                model = family.fit(train_x, fold.train[target].to_numpy(), params[name], seed)
                predicted = family.predict(model, fold.validation.select(names).to_numpy().astype(np.float64))
            preds[f"pred_{name}"] = predicted
        oof_parts.append(fold.validation.select("league", "currency", "date", "league_day", "price_chaos", target)
                         .with_columns(**{k: pl.Series(np.asarray(v, dtype=float)) for k, v in preds.items()}))
    x_all = rows.select(names).to_numpy().astype(np.float64)
    members = {name: family.fit(x_all, rows[target].to_numpy(), params[name], seed)
               for name, family in FAMILIES.items()}
    return _Scope(params, scores, pl.concat(oof_parts), members, trials)


def _price_error(price: np.ndarray, logret: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sum(np.abs(price * np.exp(logret) - price * np.exp(predicted))))


def _blend(oof: pl.DataFrame, target: str) -> tuple[dict[str, float], dict[str, float], np.ndarray]:
    """Family weights (inverse squared validation relative MAE), return scale per league phase, blended predictions."""
    scores = {name: validation_relative_mae(oof, target, oof[f"pred_{name}"].to_numpy()) for name in FAMILIES}
    if oof.height < 10 or not all(np.isfinite(list(scores.values()))):
        weights = dict(FALLBACK_WEIGHTS)
    else:
        inverse = {name: 1.0 / max(score, 1e-6) ** 2 for name, score in scores.items()}
        total = sum(inverse.values())
        weights = {name: value / total for name, value in inverse.items()}
    blend = sum(w * oof[f"pred_{name}"].to_numpy() for name, w in weights.items())
    price, logret = oof["price_chaos"].to_numpy(), oof[target].to_numpy()
    phase = league_phase(oof["league_day"].to_numpy())
    scale, factors = {}, np.ones(oof.height)
    for i, name in enumerate(PHASES):
        mask = phase == i
        if mask.sum() < 5:
            scale[name] = 0.5
        else:
            errors = {a: _price_error(price[mask], logret[mask], a * blend[mask]) for a in RETURN_SCALE_GRID}
            scale[name] = float(min(RETURN_SCALE_GRID, key=lambda a: (round(errors[a], 12), -a)))
        factors[mask] = scale[name]
    return weights, scale, factors * blend


def train_currency_model(
    features: pl.DataFrame,
    currency: str,
    horizon: str,
    profile: TrainingProfile | str = "test",
    seed: int = 0,
    storage: optuna.storages.BaseStorage | None = None,
) -> TrainedModel:
    """Train the ensemble for one currency and horizon on every row of ``features`` with a known target.

    ``features`` is the whole multi-currency table (pooled models learn from all of it); validation
    is walk-forward over its most recent leagues.
    """
    profile = PROFILES[profile] if isinstance(profile, str) else profile
    started = time.perf_counter()
    target = target_column(horizon)
    codes = {c: i for i, c in enumerate(sorted(features["currency"].unique().to_list()))}
    rows = _with_code(features.filter(pl.col(target).is_not_null()), codes).sort("date", "currency")
    own_rows = rows.filter(pl.col("currency") == currency)
    if currency not in codes:
        raise ValueError(f"{currency!r} has no feature rows: nothing to forecast it from")
    names = [*feature_columns(features), "currency_code"]
    gap = HORIZON_DAYS[horizon]

    data_version = f"{rows.height}-{int(rows.select('league', 'currency', 'date', 'price_chaos', target).hash_rows().sum()) & 0xFFFFFFFFFFFF:x}"
    fingerprint = (profile, seed, data_version, tuple(names))
    cached = _POOLED_CACHE.get(horizon)
    pooled = cached[1] if cached and cached[0] == fingerprint else None
    pooled_trials = 0
    if pooled is None:
        # The study name carries the data version: new data is a new search, never a continuation.
        pooled = _fit_scope(rows, names, target, gap, profile, seed, storage, f"pooled-{horizon}-{data_version}")
        if pooled is not None:
            _POOLED_CACHE[horizon] = (fingerprint, pooled)
            pooled_trials = pooled.trials
    candidates: dict[str, _Scope] = {"pooled": pooled} if pooled else {}
    if own_rows.height >= MIN_OWN_ROWS and pooled is not None:
        reason = "pooled and own models compared on validation"
        # Own-history models use the families' regularised defaults: parameters searched on ~20k pooled
        # rows (often 150 leaves x 500 trees) overfit ~1.5k rows, and a search per currency would cost
        # 13 times the pooled one.
        defaults = {name: family.defaults() for name, family in FAMILIES.items()}
        own = _fit_scope(own_rows, names, target, gap, profile, seed, storage, f"own-{horizon}-{currency}",
                         params=defaults)
        if own is not None:
            candidates["own"] = own
    else:
        reason = f"only {own_rows.height} rows of its own history (< {MIN_OWN_ROWS}): pooled model"
    if not candidates:
        raise ValueError(f"{currency!r} {horizon}: too few leagues for walk-forward validation")

    evaluated, borrowed = {}, False
    for scope_name, scope in candidates.items():
        oof = scope.oof.filter(pl.col("currency") == currency)
        if oof.height == 0:
            continue
        weights, scale, blended = _blend(oof, target)
        evaluated[scope_name] = (validation_relative_mae(oof, target, blended), weights, scale, oof, blended)
    if not evaluated and pooled is not None:
        # New to the data (e.g. first seen in the live league): nothing of its own to validate on, so the
        # pooled model serves it, blended and scaled as validated on every currency.
        weights, scale, blended = _blend(pooled.oof, target)
        evaluated["pooled"] = (validation_relative_mae(pooled.oof, target, blended), weights, scale,
                                pooled.oof, blended)
        borrowed = True  # its validation rows are other currencies': no residuals of its own to calibrate on
        reason = (f"no validation days of its own ({own_rows.height} rows with a known target): pooled model, "
                  "blend and return scale validated on every currency")
    if not evaluated:
        raise ValueError(f"{currency!r} {horizon}: no validation rows in the most recent leagues")
    scope_name = min(evaluated, key=lambda k: (evaluated[k][0], k != "pooled"))
    _, weights, scale, oof, blended = evaluated[scope_name]
    scope = candidates[scope_name]

    last = oof["league"].to_list()[-1]
    mask = (oof["league"] == last).to_numpy()
    price = oof["price_chaos"].to_numpy()[mask]
    actual = price * np.exp(oof[target].to_numpy()[mask])
    forecast = price * np.exp(blended[mask])
    points = score_points(price, actual, forecast)
    metrics = {
        "mae_model": points["mae"], "mae_persistence": points["mae_persistence"], "mase": points["mase"],
        "mape": points["mape"], "direction_accuracy": points["direction_accuracy"], "n_val": float(points["n"]),
        "rmse_model": float(np.sqrt(np.mean((actual - forecast) ** 2))),
        "rmse_persistence": float(np.sqrt(np.mean((actual - price) ** 2))),
        "validation_mase_all_folds": float(evaluated[scope_name][0]),
        "pooled_model": float(scope_name == "pooled"),
        "own_history_rows": float(own_rows.height),
        "train_seconds": time.perf_counter() - started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "trials": float(pooled.trials if pooled else 0),
        "training_rows": float(rows.height if scope_name == "pooled" else own_rows.height),
    }
    return TrainedModel(
        currency=currency, horizon=horizon, feature_names=names, members=scope.members, weights=weights,
        return_scale=scale, currency_codes=codes, metrics=metrics,
        residuals=np.empty(0) if borrowed else oof[target].to_numpy() - blended, params=scope.params,
        info={"scope": scope_name, "scope_reason": reason, "profile": profile.name, "validation_league": last,
              "validation_leagues": sorted(set(oof["league"].to_list())), "family_scores": scope.scores,
              "scope_mase": {k: v[0] for k, v in evaluated.items()}, "data_version": data_version,
              "pooled_search_reused": pooled_trials == 0},
    )
