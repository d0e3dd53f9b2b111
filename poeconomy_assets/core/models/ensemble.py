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
best left to persistence (a small scale).

Training is two steps, so an orchestrator can run (and store) each on its own:
1. :func:`train_pooled_model`: the pooled scope of one horizon, its Optuna search included (once per
   horizon, whatever the number of currencies); a :class:`PooledModel` saves and loads like a model;
2. :func:`train_currency_model`: one currency, given that pooled result: fits its own scope and picks.
Nothing is cached between calls: a caller training many currencies passes the same ``PooledModel``.
"""

import resource
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from poeconomy_assets.core.features import MID_DAYS, feature_columns, league_phase, target_column
from poeconomy_assets.core.metrics import score_points, with_current_names
from poeconomy_assets.core.models.artifacts import (
    ArtifactIntegrityError,
    clear_directory,
    read_verified_manifest,
    require_fields,
    require_files,
    write_manifest,
)
from poeconomy_assets.core.models.families import FALLBACK_WEIGHTS, FAMILIES
from poeconomy_assets.core.models.skill_gate import (
    GATE_ALPHA,
    GATE_ALPHAS,
    GATE_MIN_DAYS,
    GateChoice,
    SkillGate,
    choose_gate_alpha,
    skill_gate,
)
from poeconomy_assets.core.models.tuning import (
    StudyStorage,
    tune_family,
    validation_relative_mae,
    walk_forward_folds,
)
from poeconomy_assets.core.prices import league_order
from poeconomy_assets.core.schemas import HORIZON_DAYS

__all__ = [
    "PROFILES",
    "ArtifactIntegrityError",
    "PooledModel",
    "TrainedModel",
    "TrainingProfile",
    "train_currency_model",
    "train_pooled_model",
]

# Below this a currency's own history is too short for its own model. ~12 leagues of ~100 days: the 13
# long-history currencies qualify; an item of the full dumps (at most 10 leagues) gets the pooled model.
MIN_OWN_ROWS = 1_200
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
    # Own-history models are tried (against the pooled one, on validation) only for currencies with at
    # least this many training rows: on the full market that is the long-history currencies, not every item.
    min_own_rows: int = MIN_OWN_ROWS
    # The pooled model's training rows: after the first month of a league (where validation shrinks forecasts
    # nearly to persistence), leagues older than the validation ones keep one calendar day in this many.
    # On the whole market (~180k rows) it halves the pooled fits; validation leagues are never thinned.
    pooled_late_thinning: int = 1
    # The families of the pooled scope (None: all three). On the whole market XGBoost cost twice LightGBM per
    # pooled fit for a member that mostly agrees with it (both are L1 gradient boosting): development drops it
    # there (own-history models keep all three).
    pooled_families: tuple[str, ...] | None = None
    # The skill gate (core.models.skill_gate): an item × horizon keeps its model's move only where it beat
    # persistence on its validation days at a one-sided level, on at least gate_min_days of them. The level is
    # chosen per horizon from gate_alphas on the validation leagues alone (see choose_gate_alpha); one value
    # fixes it. gate_alphas=(1.0,) with gate_min_days=0 turns the gate off (every model moves).
    gate_alphas: tuple[float, ...] = GATE_ALPHAS
    gate_min_days: int = GATE_MIN_DAYS


PROFILES = {
    "test": TrainingProfile("test", n_trials=3, n_folds=1),
    "development": TrainingProfile(
        "development",
        n_trials=50,
        n_folds=3,
        search_budget_seconds=20.0,
        pooled_late_thinning=3,
        pooled_families=("lightgbm", "random_forest"),
    ),
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
    gate: SkillGate = field(default_factory=lambda: SkillGate.from_dict(None))

    def predict(self, rows: pl.DataFrame) -> np.ndarray:
        """Predicted log return over the horizon for each feature row (built by ``build_features``): 0 (no
        change) for every row when the skill gate is closed (see ``core.models.skill_gate``)."""
        if not self.gate.use_model:
            return np.zeros(rows.height)
        return self.model_move(rows)

    def model_move(self, rows: pl.DataFrame) -> np.ndarray:
        """The ensemble's own log return, whatever the gate says (what the gate was tested on)."""
        x = _feature_matrix(rows, self.feature_names, self.currency_codes)
        blend = np.zeros(x.shape[0])
        for name, weight in self.weights.items():
            if weight > 0:
                blend += weight * np.asarray(FAMILIES[name].predict(self.members[name], x), dtype=float)
        factors = np.array([self.return_scale[p] for p in PHASES])
        return factors[league_phase(rows["league_day"].to_numpy())] * blend

    def save(self, directory: Path, *, key: bytes) -> dict:
        """Native files (LightGBM text, XGBoost JSON, RandomForest as LightGBM text) + manifest with their sha256,
        signed with ``key`` (see ``core.models.artifacts``)."""
        directory = clear_directory(Path(directory))
        files = []
        for name, model in self.members.items():
            FAMILIES[name].save(model, directory / FAMILIES[name].file_name)
            files.append(FAMILIES[name].file_name)
        np.save(directory / "residuals.npy", self.residuals)
        files.append("residuals.npy")
        return write_manifest(
            directory,
            files,
            {
                "currency": self.currency,
                "horizon": self.horizon,
                "features": self.feature_names,
                "weights": self.weights,
                "return_scale": self.return_scale,
                "currency_codes": self.currency_codes,
                "metrics": self.metrics,
                "params": self.params,
                "info": self.info,
                "gate": self.gate.as_dict(),
                "data_version": self.info.get("data_version"),
            },
            key=key,
        )

    @classmethod
    def load(cls, directory: Path, *, key: bytes) -> "TrainedModel":
        """Load after verifying the manifest's signature under ``key`` and every file's sha256, and that the
        manifest lists every field and file the model needs; no file is parsed before all of that passed."""
        directory = Path(directory)
        manifest = read_verified_manifest(directory, key)
        require_fields(
            manifest,
            directory,
            {
                "currency": str,
                "horizon": str,
                "features": list,
                "weights": dict,
                "currency_codes": dict,
                "metrics": dict,
            },
        )
        scale = manifest.get("return_scale", manifest.get("shrink"))  # "shrink" before the rename
        if not isinstance(scale, dict) or any(phase not in scale for phase in PHASES):
            raise ArtifactIntegrityError(f"{directory}: manifest has no return scale for each of {PHASES}")
        weights = manifest["weights"]
        unknown = [name for name in weights if name not in FAMILIES]
        if unknown or not all(
            isinstance(w, int | float) and not isinstance(w, bool) for w in weights.values()
        ):
            raise ArtifactIntegrityError(
                f"{directory}: manifest weights {weights!r:.200} name unknown families "
                f"{unknown} or are not numbers"
            )
        used = [FAMILIES[name].file_name for name, weight in weights.items() if weight > 0]
        require_files(manifest, directory, [*used, "residuals.npy"], "its weights use them")
        members = {
            family.name: family.load(directory / family.file_name)
            for family in FAMILIES.values()
            if family.file_name in manifest["files"]
        }
        return cls(
            currency=manifest["currency"],
            horizon=manifest["horizon"],
            feature_names=manifest["features"],
            members=members,
            weights=weights,
            return_scale=scale,
            currency_codes=manifest["currency_codes"],
            metrics=with_current_names(manifest["metrics"]),
            residuals=np.load(directory / "residuals.npy", allow_pickle=False),
            params=manifest.get("params") or {},
            info=with_current_names(manifest.get("info") or {}),
            gate=SkillGate.from_dict(manifest.get("gate")),
        )


def _feature_matrix(rows: pl.DataFrame, names: list[str], codes: dict[str, int]) -> np.ndarray:
    """Model inputs as a C-ordered float matrix. A few rows (a live forecast) are read value by value:
    a polars query plan and a mixed-dtype to_numpy would cost more than the three models' predictions."""
    if rows.height > 16:
        return np.ascontiguousarray(_with_code(rows, codes).select(names).to_numpy(), dtype=np.float64)
    series = {s.name: s for s in rows.iter_columns()}
    currency = series["currency"].to_list()
    return np.array(
        [
            [codes.get(currency[i], -1) if n == "currency_code" else series[n][i] for n in names]
            for i in range(rows.height)
        ],
        dtype=np.float64,
    )


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


def _fit_scope(
    rows: pl.DataFrame,
    names: list[str],
    target: str,
    gap: int,
    profile: TrainingProfile,
    seed: int,
    storage: StudyStorage,
    label: str,
    params: dict | None = None,
    families: tuple[str, ...] | None = None,
) -> _Scope | None:
    folds = walk_forward_folds(rows, profile.n_folds, gap)
    if not folds:
        return None
    chosen = {name: FAMILIES[name] for name in (families or FAMILIES)}
    scores, trials = {}, 0
    fold_predictions: dict[str, dict[str, np.ndarray]] = {name: {} for name in chosen}
    if params is None:
        params = {}
        for family in chosen.values():
            share = 1.0 if family.name == "lightgbm" else profile.xgboost_trial_share
            n = max(1, round(profile.n_trials * share))
            seconds = profile.search_budget_seconds * share if profile.search_budget_seconds else None
            study = f"{label}-{family.name}-{profile.name}-{seed}"
            params[family.name], scores[family.name], ran = tune_family(
                family,
                folds,
                names,
                target,
                n,
                seed,
                storage,
                study,
                budget_seconds=seconds,
                predictions=fold_predictions[family.name],
            )
            trials += ran if family.searchable else 0
    oof_parts = []
    for fold in folds:
        # The search already fitted the chosen parameters on every fold: reuse those predictions.
        preds = {}
        for name, family in chosen.items():
            predicted = fold_predictions[name].get(fold.league)
            if predicted is None:
                train_x = fold.train.select(names).to_numpy().astype(np.float64)
                model = family.fit(train_x, fold.train[target].to_numpy(), params[name], seed)
                predicted = family.predict(model, fold.validation.select(names).to_numpy().astype(np.float64))
            preds[f"pred_{name}"] = predicted
        oof_parts.append(
            fold.validation.select(
                "league", "currency", "date", "league_day", "price_chaos", target
            ).with_columns(**{k: pl.Series(np.asarray(v, dtype=float)) for k, v in preds.items()})
        )
    x_all = rows.select(names).to_numpy().astype(np.float64)
    members = {
        name: family.fit(x_all, rows[target].to_numpy(), params[name], seed)
        for name, family in chosen.items()
    }
    return _Scope(params, scores, pl.concat(oof_parts), members, trials)


def _price_error(price: np.ndarray, logret: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sum(np.abs(price * np.exp(logret) - price * np.exp(predicted))))


def _blend(oof: pl.DataFrame, target: str) -> tuple[dict[str, float], dict[str, float], np.ndarray]:
    """Family weights (inverse squared validation relative MAE), return scale per league phase, blended predictions."""
    present = [name for name in FAMILIES if f"pred_{name}" in oof.columns]  # the scope's families
    scores = {name: validation_relative_mae(oof, target, oof[f"pred_{name}"].to_numpy()) for name in present}
    if oof.height < 10 or not all(np.isfinite(list(scores.values()))):
        fallback = sum(FALLBACK_WEIGHTS[name] for name in present)
        weights = {name: FALLBACK_WEIGHTS[name] / fallback for name in present}
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


def _apply_blend(oof: pl.DataFrame, weights: dict[str, float], scale: dict[str, float]) -> np.ndarray:
    """The blended, scaled log return of ``oof`` rows with weights and return scales fitted elsewhere."""
    blend = sum(w * oof[f"pred_{name}"].to_numpy() for name, w in weights.items())
    factors = np.array([scale[p] for p in PHASES])
    return factors[league_phase(oof["league_day"].to_numpy())] * blend


def _data_version(rows: pl.DataFrame, target: str) -> str:
    """A short fingerprint of the training rows (count + hash of the columns that define them)."""
    digest = (
        int(rows.select("league", "currency", "date", "price_chaos", target).hash_rows().sum())
        & 0xFFFFFFFFFFFF
    )
    return f"{rows.height}-{digest:x}"


def _training_rows(features: pl.DataFrame, target: str, codes: dict[str, int]) -> pl.DataFrame:
    return _with_code(features.filter(pl.col(target).is_not_null()), codes).sort("date", "currency")


@dataclass
class PooledModel:
    """One horizon's pooled (cross-currency) scope: the searched parameters, every currency's out-of-fold
    predictions and the final fits. Each currency's model at that horizon is built from it."""

    horizon: str
    profile: TrainingProfile
    seed: int
    feature_names: list[str]
    currency_codes: dict[str, int]
    data_version: str
    scope: _Scope
    seconds: float = 0.0
    gate: GateChoice = field(default_factory=lambda: GateChoice(GATE_ALPHA, "the default level", {}))

    @property
    def trials(self) -> int:
        return self.scope.trials

    def save(self, directory: Path, *, key: bytes) -> dict:
        """Native member files, the out-of-fold predictions (Parquet) and a manifest with their sha256, signed
        with ``key``."""
        directory = clear_directory(Path(directory))
        files = []
        for name, model in self.scope.members.items():
            FAMILIES[name].save(model, directory / FAMILIES[name].file_name)
            files.append(FAMILIES[name].file_name)
        self.scope.oof.write_parquet(directory / "oof.parquet")
        files.append("oof.parquet")
        return write_manifest(
            directory,
            files,
            {
                "kind": "pooled",
                "horizon": self.horizon,
                "profile": asdict(self.profile),
                "seed": self.seed,
                "features": self.feature_names,
                "currency_codes": self.currency_codes,
                "data_version": self.data_version,
                "params": self.scope.params,
                "family_scores": self.scope.scores,
                "trials": self.scope.trials,
                "seconds": self.seconds,
                "gate": self.gate.as_dict(),
            },
            key=key,
        )

    @classmethod
    def load(cls, directory: Path, *, key: bytes) -> "PooledModel":
        """Load after verifying the signature (``key``) and every file's sha256; nothing is parsed before."""
        directory = Path(directory)
        manifest = read_verified_manifest(directory, key)
        if manifest.get("kind") != "pooled":
            raise ArtifactIntegrityError(f"{directory}: not a pooled model's manifest")
        require_fields(
            manifest,
            directory,
            {
                "horizon": str,
                "profile": dict,
                "seed": int,
                "features": list,
                "currency_codes": dict,
                "data_version": str,
                "params": dict,
                "family_scores": dict,
                "trials": int,
            },
        )
        fitted = [FAMILIES[name].file_name for name in manifest["params"] if name in FAMILIES]
        require_files(
            manifest,
            directory,
            ["oof.parquet", *fitted],
            "the out-of-fold predictions every model blends, and a fit of each family it searched",
        )
        members = {
            family.name: family.load(directory / family.file_name)
            for family in FAMILIES.values()
            if family.file_name in manifest["files"]
        }
        scope = _Scope(
            manifest["params"],
            manifest["family_scores"],
            pl.read_parquet(directory / "oof.parquet"),
            members,
            int(manifest["trials"]),
        )
        return cls(
            manifest["horizon"],
            TrainingProfile(
                **{
                    k: tuple(v) if isinstance(v, list) else v
                    for k, v in manifest["profile"].items()
                    if k in TrainingProfile.__dataclass_fields__  # a field since dropped is ignored
                }
            ),
            int(manifest["seed"]),
            manifest["features"],
            manifest["currency_codes"],
            manifest["data_version"],
            scope,
            float(manifest.get("seconds", 0.0)),
            GateChoice.from_dict(manifest.get("gate")),
        )


def _thinned(rows: pl.DataFrame, profile: TrainingProfile) -> pl.DataFrame:
    """``rows`` with the late-league days of leagues older than the validation ones thinned (see
    ``TrainingProfile.pooled_late_thinning``): every league's first month and every validation league stay whole."""
    if profile.pooled_late_thinning <= 1:
        return rows
    validation = league_order(rows)[-profile.n_folds :]
    keep = (
        (pl.col("league_day") < MID_DAYS)
        | pl.col("league").is_in(validation)
        | (pl.col("date").cast(pl.Int64) % profile.pooled_late_thinning == 0)
    )
    return rows.filter(keep)


def train_pooled_model(
    features: pl.DataFrame,
    horizon: str,
    profile: TrainingProfile | str = "test",
    seed: int = 0,
    storage: StudyStorage = None,
) -> PooledModel:
    """Search, validate (walk-forward) and fit the pooled model of ``horizon`` on every currency's rows.

    ``storage`` (an Optuna storage or URL) lets several workers share the search's studies."""
    profile = PROFILES[profile] if isinstance(profile, str) else profile
    started = time.perf_counter()
    target = target_column(horizon)
    codes = {c: i for i, c in enumerate(sorted(features["currency"].unique().to_list()))}
    rows = _training_rows(features, target, codes)
    names = [*feature_columns(features, horizon), "currency_code"]
    data_version = _data_version(rows, target)
    # The study name carries the data version: new data is a new search, never a continuation of an old one.
    scope = _fit_scope(
        _thinned(rows, profile),
        names,
        target,
        HORIZON_DAYS[horizon],
        profile,
        seed,
        storage,
        f"pooled-{horizon}-{data_version}",
        families=profile.pooled_families,
    )
    if scope is None:
        raise ValueError(
            f"pooled {horizon}: too few leagues for walk-forward validation "
            f"({rows['league'].n_unique()} with a known target)"
        )
    gate = choose_gate_alpha(
        scope.oof,
        target,
        HORIZON_DAYS[horizon],
        profile.gate_alphas,
        profile.gate_min_days,
        lambda oof: _blend(oof, target),
        _apply_blend,
    )
    return PooledModel(
        horizon, profile, seed, names, codes, data_version, scope, time.perf_counter() - started, gate
    )


def train_currency_model(
    features: pl.DataFrame,
    currency: str,
    horizon: str,
    profile: TrainingProfile | str | None = None,
    seed: int | None = None,
    storage: StudyStorage = None,
    pooled: PooledModel | None = None,
    training_rows: pl.DataFrame | None = None,
) -> TrainedModel:
    """Train the ensemble for one currency and horizon on every row of ``features`` with a known target.

    ``features`` is the whole multi-currency table; validation is walk-forward over its most recent
    leagues. ``pooled`` is the horizon's :func:`train_pooled_model` result, whose profile and seed this
    model follows; without it the pooled search runs here (once per call: pass it when training many).
    ``training_rows`` is :func:`horizon_training_rows` of the same features and pooled model, computed once
    for every currency of a run (the result is the same with or without it).
    """
    if pooled is None:
        pooled = train_pooled_model(features, horizon, profile or "test", seed or 0, storage)
    _check_pooled(pooled, horizon, profile, seed)
    profile, seed = pooled.profile, pooled.seed
    started = time.perf_counter()
    target = target_column(horizon)
    if features.filter(pl.col("currency") == currency).is_empty():
        raise ValueError(f"{currency!r} has no feature rows: nothing to forecast it from")
    missing = [n for n in pooled.feature_names if n != "currency_code" and n not in features.columns]
    if missing:
        raise ValueError(
            f"the pooled {horizon} model uses features these rows lack ({missing[:5]}): "
            "re-train the pooled model on the current features"
        )
    codes, names = pooled.currency_codes, pooled.feature_names
    rows = training_rows if training_rows is not None else _training_rows(features, target, codes)
    own_rows = rows.filter(pl.col("currency") == currency)
    gap = HORIZON_DAYS[horizon]
    data_version = _data_version(rows, target)

    candidates: dict[str, _Scope] = {"pooled": pooled.scope}
    if own_rows.height >= profile.min_own_rows:
        reason = "pooled and own models compared on validation"
        # Own-history models use the families' regularised defaults: parameters searched on ~20k pooled
        # rows (often 150 leaves x 500 trees) overfit ~1.5k rows, and a search per currency would cost
        # 13 times the pooled one.
        defaults = {name: family.defaults() for name, family in FAMILIES.items()}
        own = _fit_scope(
            own_rows, names, target, gap, profile, seed, storage, f"own-{horizon}-{currency}", params=defaults
        )
        if own is not None:
            candidates["own"] = own
    else:
        reason = f"only {own_rows.height} rows of its own history (< {profile.min_own_rows}): pooled model"

    evaluated, borrowed = {}, False
    for scope_name, scope in candidates.items():
        oof = scope.oof.filter(pl.col("currency") == currency)
        if oof.height == 0:
            continue
        weights, scale, blended = _blend(oof, target)
        evaluated[scope_name] = (validation_relative_mae(oof, target, blended), weights, scale, oof, blended)
    if not evaluated:
        # New to the data (e.g. first seen in the live league): nothing of its own to validate on, so the
        # pooled model serves it, blended and scaled as validated on every currency.
        weights, scale, blended = _blend(pooled.scope.oof, target)
        evaluated["pooled"] = (
            validation_relative_mae(pooled.scope.oof, target, blended),
            weights,
            scale,
            pooled.scope.oof,
            blended,
        )
        borrowed = True  # its validation rows are other currencies': no residuals of its own to calibrate on
        reason = (
            f"no validation days of its own ({own_rows.height} rows with a known target): pooled model, "
            "blend and return scale validated on every currency"
        )
    scope_name = min(evaluated, key=lambda k: (evaluated[k][0], k != "pooled"))
    _, weights, scale, oof, blended = evaluated[scope_name]
    scope = candidates[scope_name]

    all_price = oof["price_chaos"].to_numpy()
    all_actual = all_price * np.exp(oof[target].to_numpy())
    if borrowed and profile.gate_min_days > 0:
        gate = SkillGate(
            False,
            "no validation days of its own: no change until it earns the move on its own days",
            0,
        )
    elif borrowed:
        gate = SkillGate(True, "no validation days of its own; the gate is off in this profile")
    else:
        gate = skill_gate(
            all_price,
            all_actual,
            all_price * np.exp(blended),
            oof["league"].to_numpy(),
            gap,
            alpha=pooled.gate.alpha,
            min_days=profile.gate_min_days,
        )
    last = oof["league"].to_list()[-1]
    mask = (oof["league"] == last).to_numpy()
    price = all_price[mask]
    actual = all_actual[mask]
    forecast = price * np.exp(blended[mask])
    points = score_points(price, actual, forecast)
    metrics = {
        "mae_model": points["mae"],
        "mae_persistence": points["mae_persistence"],
        "rel_mae": points["rel_mae"],
        "mape": points["mape"],
        "direction_accuracy": points["direction_accuracy"],
        "n_val": float(points["n"]),
        "rmse_model": float(np.sqrt(np.mean((actual - forecast) ** 2))),
        "rmse_persistence": float(np.sqrt(np.mean((actual - price) ** 2))),
        "validation_rel_mae_all_folds": float(evaluated[scope_name][0]),
        "pooled_model": float(scope_name == "pooled"),
        "own_history_rows": float(own_rows.height),
        "train_seconds": time.perf_counter() - started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "trials": float(pooled.trials),
        "training_rows": float(rows.height if scope_name == "pooled" else own_rows.height),
        "gate_open": float(gate.use_model),
    }
    return TrainedModel(
        currency=currency,
        horizon=horizon,
        feature_names=names,
        members=scope.members,
        weights=weights,
        return_scale=scale,
        currency_codes=codes,
        metrics=metrics,
        # The residuals the intervals calibrate on are those of the forecast served: persistence's when gated.
        residuals=np.empty(0) if borrowed else oof[target].to_numpy() - (blended if gate.use_model else 0.0),
        params=scope.params,
        info={
            "scope": scope_name,
            "scope_reason": reason,
            "profile": profile.name,
            "validation_league": last,
            "validation_leagues": sorted(set(oof["league"].to_list())),
            "family_scores": scope.scores,
            "scope_rel_mae": {k: v[0] for k, v in evaluated.items()},
            "data_version": data_version,
            "pooled_data_version": pooled.data_version,
        },
        gate=gate,
    )


def horizon_training_rows(features: pl.DataFrame, pooled: PooledModel) -> pl.DataFrame:
    """The rows with a known target at the pooled model's horizon, coded as it codes currencies: what every
    currency's model of that horizon starts from (compute once, pass to each ``train_currency_model``)."""
    return _training_rows(features, target_column(pooled.horizon), pooled.currency_codes)


def _check_pooled(
    pooled: PooledModel, horizon: str, profile: TrainingProfile | str | None, seed: int | None
) -> None:
    if pooled.horizon != horizon:
        raise ValueError(f"the pooled model given is the {pooled.horizon} one, not {horizon}")
    name = profile if isinstance(profile, str) or profile is None else profile.name
    if name is not None and name != pooled.profile.name:
        raise ValueError(
            f"profile {name!r} asked, but the pooled {horizon} model was searched with "
            f"{pooled.profile.name!r}: re-train the pooled model with that profile"
        )
    if seed is not None and seed != pooled.seed:
        raise ValueError(f"seed {seed} asked, but the pooled {horizon} model used seed {pooled.seed}")
