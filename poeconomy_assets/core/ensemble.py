"""Per currency × horizon models predicting the log return, validated against persistence.

First cut: one LightGBM per currency × horizon on the currency's own rows, validated on its most
recent league (training stops ``h`` days before it so overlapping targets cannot leak), then refit
on everything. Artifacts are LightGBM's native text format plus a manifest with sha256 hashes.
"""

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import lightgbm as lgb
import numpy as np
import polars as pl

from poeconomy_assets.core.features import feature_columns, target_column
from poeconomy_assets.core.schemas import HORIZON_DAYS

MANIFEST = "manifest.json"


class ArtifactIntegrityError(RuntimeError):
    """A model file differs from what its manifest recorded: it is refused, never loaded."""


@dataclass(frozen=True)
class TrainingProfile:
    name: str
    n_trials: int
    n_folds: int
    n_estimators: int


PROFILES = {
    "test": TrainingProfile("test", n_trials=3, n_folds=1, n_estimators=80),
    "development": TrainingProfile("development", n_trials=50, n_folds=3, n_estimators=300),
    "production": TrainingProfile("production", n_trials=200, n_folds=5, n_estimators=500),
}


@dataclass
class TrainedModel:
    currency: str
    horizon: str
    feature_names: list[str]
    booster: lgb.Booster
    metrics: dict[str, float]
    residuals: np.ndarray
    params: dict = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=lambda: {"lightgbm": 1.0})

    def predict(self, rows: pl.DataFrame) -> np.ndarray:
        x = rows.select(self.feature_names).to_numpy().astype(float)
        return self.booster.predict(x)

    def save(self, directory: Path) -> dict:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        model_file = directory / "lightgbm.txt"
        self.booster.save_model(str(model_file))
        np.save(directory / "residuals.npy", self.residuals)
        files = {p.name: _sha256(p) for p in (model_file, directory / "residuals.npy")}
        manifest = {
            "currency": self.currency,
            "horizon": self.horizon,
            "features": self.feature_names,
            "metrics": self.metrics,
            "params": self.params,
            "weights": self.weights,
            "files": files,
        }
        (directory / MANIFEST).write_text(json.dumps(manifest, indent=1))
        return manifest

    @classmethod
    def load(cls, directory: Path) -> "TrainedModel":
        directory = Path(directory)
        manifest = json.loads((directory / MANIFEST).read_text())
        for name, digest in manifest["files"].items():
            if _sha256(directory / name) != digest:
                raise ArtifactIntegrityError(f"{directory / name}: sha256 differs from {MANIFEST}; refusing to load")
        return cls(
            currency=manifest["currency"],
            horizon=manifest["horizon"],
            feature_names=manifest["features"],
            booster=lgb.Booster(model_file=str(directory / "lightgbm.txt")),
            metrics=manifest["metrics"],
            residuals=np.load(directory / "residuals.npy", allow_pickle=False),
            params=manifest["params"],
            weights=manifest["weights"],
        )


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _fit(x: np.ndarray, y: np.ndarray, profile: TrainingProfile, seed: int) -> lgb.Booster:
    params = {"objective": "l2", "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 10,
              "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
              "verbose": -1, "seed": seed, "num_threads": 1}
    return lgb.train(params, lgb.Dataset(x, y), num_boost_round=profile.n_estimators)


def train_currency_model(
    features: pl.DataFrame, currency: str, horizon: str, profile: TrainingProfile | str = "test", seed: int = 0
) -> TrainedModel:
    """Train on the currency's rows of every league; validate on its most recent league."""
    profile = PROFILES[profile] if isinstance(profile, str) else profile
    started = time.perf_counter()
    target = target_column(horizon)
    names = feature_columns(features)
    rows = features.filter((pl.col("currency") == currency) & pl.col(target).is_not_null()).sort("date")
    if rows.is_empty():
        raise ValueError(f"no training rows for {currency!r} at horizon {horizon}")
    leagues = rows.group_by("league").agg(pl.col("date").min()).sort("date")["league"].to_list()
    val_league = leagues[-1]
    gap = HORIZON_DAYS[horizon]
    val = rows.filter(pl.col("league") == val_league)
    val_start = val["date"].min()
    train = rows.filter((pl.col("league") != val_league) & (pl.col("date") < val_start - pl.duration(days=gap)))
    if train.height < 20 or val.is_empty():
        train, val = rows.head(int(rows.height * 0.8)), rows.tail(rows.height - int(rows.height * 0.8))
    booster = _fit(train.select(names).to_numpy().astype(float), train[target].to_numpy(), profile, seed)
    predicted = booster.predict(val.select(names).to_numpy().astype(float))
    actual = val[target].to_numpy()
    metrics = score(val["price_chaos"].to_numpy(), actual, predicted)
    final = _fit(rows.select(names).to_numpy().astype(float), rows[target].to_numpy(), profile, seed)
    metrics["train_seconds"] = time.perf_counter() - started
    return TrainedModel(currency, horizon, names, final, metrics, residuals=actual - predicted,
                        params={"profile": profile.name, "n_estimators": profile.n_estimators, "validation_league": val_league})


def score(price: np.ndarray, actual_logret: np.ndarray, predicted_logret: np.ndarray) -> dict[str, float]:
    """Price-space errors of the model and of persistence (price(t+h) = price(t)) on the same points."""
    actual = price * np.exp(actual_logret)
    forecast = price * np.exp(predicted_logret)
    mae_model = float(np.mean(np.abs(actual - forecast)))
    mae_persistence = float(np.mean(np.abs(actual - price)))
    moved = np.abs(np.expm1(actual_logret)) > 0.01
    return {
        "mae_model": mae_model,
        "mae_persistence": mae_persistence,
        "mase": mae_model / mae_persistence if mae_persistence > 0 else float("nan"),
        "rmse_model": float(np.sqrt(np.mean((actual - forecast) ** 2))),
        "rmse_persistence": float(np.sqrt(np.mean((actual - price) ** 2))),
        "direction_accuracy": float(np.mean(np.sign(predicted_logret[moved]) == np.sign(actual_logret[moved])))
        if moved.any() else float("nan"),
        "n_val": float(actual.size),
    }
