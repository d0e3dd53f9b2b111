"""Honest backtests: train on the leagues that ended before a test league, forecast every day of it.

A forecast point is (currency, day t of the test league, horizon h) where the price at t + h is
known; the model sees only features at t (which never look ahead) and is trained only on earlier
leagues. Scores always sit next to persistence (price(t + h) = price(t)) on the same points.
"""

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import polars as pl

from poeconomy_assets.core.evaluation.metrics import INTERVAL_KEYS, scorecard
from poeconomy_assets.core.features.build import build_features, target_column
from poeconomy_assets.core.models.ensemble import PROFILES, TrainingProfile, train_currency_model
from poeconomy_assets.core.prices import league_order
from poeconomy_assets.core.schemas import HORIZON_DAYS, HORIZONS
from poeconomy_assets.core.uncertainty.calibration import model_calibration, price_bands
from poeconomy_assets.core.uncertainty.intervals import PhaseCalibrator

SUMMARY_KEYS = ("mase", "mape", "mae", "direction_accuracy", *INTERVAL_KEYS)


def train_leagues_for(prices: pl.DataFrame, test_league: str) -> list[str]:
    """Every league that ended before ``test_league`` started (leagues never overlap)."""
    spans = prices.group_by("league").agg(pl.col("date").min().alias("start"), pl.col("date").max().alias("end"))
    if test_league not in spans["league"].to_list():
        raise ValueError(f"test league {test_league!r} is not in the data (have {sorted(spans['league'].to_list())})")
    start = spans.filter(pl.col("league") == test_league)["start"][0]
    return spans.filter(pl.col("end") < start).sort("start")["league"].to_list()


def backtest_league(
    prices: pl.DataFrame,
    test_league: str,
    profile: TrainingProfile | str = "development",
    horizons: Sequence[str] = HORIZONS,
    currencies: Sequence[str] | None = None,
    seed: int = 0,
    log: Callable[[str], None] = lambda message: None,
) -> dict:
    """The scorecard of ``test_league`` in the shape ``poeconomy backtest --json`` writes."""
    profile = PROFILES[profile] if isinstance(profile, str) else profile
    train_leagues = train_leagues_for(prices, test_league)
    if not train_leagues:
        raise ValueError(f"no league ended before {test_league!r}: nothing to train on")
    # Later leagues are dropped before features are built, so not even a profile can see them.
    features = build_features(prices.filter(pl.col("league").is_in([*train_leagues, test_league])))
    train = features.filter(pl.col("league").is_in(train_leagues))
    test = features.filter(pl.col("league") == test_league)
    available = set(test["currency"].unique()) & set(train["currency"].unique())
    wanted = [c for c in currencies if c in available] if currencies else sorted(available)
    if not wanted:
        raise ValueError(f"no currency of {test_league!r} has training history (asked for {currencies})")
    result = {"test_league": test_league, "train_leagues": train_leagues, "profile": profile.name, "horizons": {}}
    for horizon in horizons:
        target = target_column(horizon)
        trained = []
        for currency in wanted:
            started = time.perf_counter()
            model = train_currency_model(train, currency, horizon, profile=profile, seed=seed)
            trained.append((currency, model, model_calibration(train, model)))
            log(f"{test_league} {horizon} {currency}: scope {model.info.get('scope')}, "
                f"validation relative MAE {model.metrics['mase']:.3f}, {time.perf_counter() - started:.1f}s")
        # Intervals: each currency's own walk-forward residuals, everyone's when it has too few (per phase).
        pooled = pl.concat([calibration for _, _, calibration in trained])
        parts, methods = [], {}
        for currency, model, calibration in trained:
            rows = test.filter((pl.col("currency") == currency) & pl.col(target).is_not_null())
            if rows.is_empty():
                continue
            predicted = model.predict(rows)
            price = rows["price_chaos"].to_numpy()
            model_band = PhaseCalibrator(calibration, pooled, HORIZON_DAYS[horizon], seed)
            # The same calibration around persistence (a 0 log return): what the model's band is compared with.
            persistence_band = PhaseCalibrator(calibration.with_columns(residual=pl.col("target")),
                                               pooled.with_columns(residual=pl.col("target")),
                                               HORIZON_DAYS[horizon], seed)
            bands = price_bands(rows, predicted, model_band, horizon)
            persistence = price_bands(rows, np.zeros(rows.height), persistence_band, horizon, prefix="persistence_")
            methods[currency] = model_band.describe()
            parts.append(pl.DataFrame({
                "currency": currency, "price_chaos": price,
                "actual_chaos": price * np.exp(rows[target].to_numpy()),
                "forecast_chaos": price * np.exp(predicted),
            }).hstack(bands.select("lower_80", "upper_80", "lower_95", "upper_95"))
              .hstack(persistence.select("persistence_lower_80", "persistence_upper_80")))
        result["horizons"][horizon] = scorecard(pl.concat(parts)) | {"interval_methods": methods}
    return result


def rolling_backtest(
    prices: pl.DataFrame,
    n_leagues: int,
    profile: TrainingProfile | str = "development",
    done: dict[str, dict] | None = None,
    on_league: Callable[[str, dict], None] = lambda league, result: None,
    **settings: Any,
) -> dict:
    """Backtest each of the last ``n_leagues`` leagues in turn; their scorecards and the averages.
    ``settings`` are backtest_league's (horizons, currencies, seed, log); ``done`` holds scorecards already
    computed with the same settings (reused, not recomputed)."""
    leagues = league_order(prices)[-n_leagues:]
    done = done or {}
    per_league = {}
    for league in leagues:
        per_league[league] = done.get(league) or backtest_league(prices, league, profile, **settings)
        on_league(league, per_league[league])
    return {"leagues": leagues, "per_league": per_league, "horizons": average_scorecards(list(per_league.values()))}


def average_scorecards(results: list[dict]) -> dict:
    """Per horizon, the unweighted mean over leagues of each summary score, and the total point count."""
    averaged = {}
    for horizon in results[0]["horizons"]:
        cards = [r["horizons"][horizon] for r in results]
        averaged[horizon] = {k: _mean_of_known([c.get(k) for c in cards]) for k in SUMMARY_KEYS}
        averaged[horizon]["n"] = int(sum(c["n"] for c in cards))
        averaged[horizon]["per_league_mase"] = {r["test_league"]: r["horizons"][horizon]["mase"] for r in results}
        for key in ("coverage_80", "coverage_95"):
            averaged[horizon][f"per_league_{key}"] = {r["test_league"]: r["horizons"][horizon].get(key)
                                                      for r in results}
    return averaged


def _mean_of_known(values: list) -> float:
    """The mean of the values that are known (not None or NaN); NaN when none is (e.g. no interval scores)."""
    known = [float(v) for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(known)) if known else float("nan")
