"""The field's standard tools (mlforecast, statsforecast) scored by the project's own scorer on held-out leagues.

    make bench-anchors        # installs the `bench` extra, then runs every method on the default leagues
    nice -n 10 .venv/bin/python benchmarks/bench_anchors.py [--leagues Crucible,Ancestor,Affliction]
        [--methods persistence,phase_median,day_median,mlf_direct,mlf_direct_tuned,mlf_recursive,statsforecast]
        [--json out.json] [--threads 2] [--refit-every 1]
    .venv/bin/python benchmarks/bench_anchors.py --tables a.json b.json    # the tables of runs split by --methods

The points are the backtest's (core/evaluation/backtest.py): for a held-out league L, the items that pass the
eligibility rule (core/models/selection.py) on the leagues that ended before L (`train_leagues_for`), and every
(item, day t) of L with a price at t and at t + h, h = 1, 3, 7 days in the same league (the non-null targets of
core/features). Each method forecasts price(t + h) knowing the earlier leagues and L's prices up to t. The score
is the project's (core/metrics.py, `scorecard` -> `score_points`): per item, the MAE of the forecast over the MAE
of persistence on that item's points (relative MAE), then the mean over items; also the share of items below 1.0.
So the figures sit beside the backtest's on the same items and days.

Every series is an item's log chaos price within one league on a daily calendar (league day 0 = the league's
first date in the data); a missing day (under 0.2% of the full leagues' item-days) repeats the day before, for
the features only: only real prices are scored. Methods:

- ``persistence``: price(t + h) = price(t). Must score exactly 1.0 (asserted: a check of the scoring path).
- ``phase_median``: persistence times exp(the item's own median h-day log return in earlier leagues, in the same
  league phase as t: launch week, rest of the first month, later; `league_phase`); 0 (persistence) when the item
  has fewer than 10 such returns. Pooled over items instead, that median is exactly 0 in every phase and horizon
  (5-22% of the moves are exactly 0, poe.ninja's prices being rounded, and the rest balance): persistence itself.
- ``day_median``: persistence times exp(the median h-day log return of every item of every earlier league on the
  same league day as t; 0 past the longest earlier league): the league's calendar alone.
- ``mlf_direct``: mlforecast, one LightGBM per step (`max_horizon=7`), L1 objective, global over every item of
  every earlier league (one series per league x item). Target: the daily log return (`Differences([1])` on the log
  price); features: its lags 1, 2, 3, 7, 14, rolling means over 3, 7, 14 days and rolling std over 7, 14 days
  (partial windows allowed), the league day and the league day mod 7 (the weekday: the 11 full leagues all open
  on a Friday).
  Rows with missing features are kept (LightGBM handles them), so the launch weeks are learnt too. LightGBM: 300
  trees, learning rate 0.05, 31 leaves, 100 rows per leaf, 80% row and column sampling, seed 0; not tuned. The
  forecast of t + h is the last log price plus the per-step models' returns for steps 1 .. h (mlforecast's inverse
  of the differences). `horizons=[1, 3, 7]` is not used: with `Differences` mlforecast 1.1 would add the three
  sparse steps' one-day returns as if they were consecutive.
- ``mlf_direct_tuned``: the same, with LightGBM's size chosen per horizon from a 4-point grid (`LGB_GRID`: 7 to
  63 leaves, 50 to 1,000 rows per leaf) by relative MAE on the league before L, each candidate trained on the
  leagues before that one; the chosen one is then trained on every league before L. L itself chooses nothing.
- ``mlf_recursive``: the same features and LightGBM, one one-step model applied recursively for 7 steps.
  Both mlforecast methods forecast from every origin t with ``MLForecast.predict(7, new_df=L's series up to t)``,
  i.e. mlforecast's own feature computation at every origin; no refit on L. An item's first day in L (one price,
  nothing to difference) is forecast by persistence.
- ``sf_autoets``, ``sf_autotheta``, ``sf_theta``: statsforecast's AutoETS, AutoTheta and Theta (no seasonality),
  local to each item: fitted on the item's log prices in L up to t, refitted at every origin (``--refit-every``
  days, default 1; between refits the fitted model is applied to the longer history with ``forward``). An item
  with fewer than 7 days of prices in L (AutoETS's minimum) is forecast by persistence, as is a failed fit
  (counted in the JSON's ``fallbacks``). Earlier leagues are not used: each league is a fresh economy.
- ``sf_best``: per horizon, the one of those three with the lowest relative MAE on the league before L (scored
  the same way with that league held out), never chosen on L itself.

Log forecasts become prices by exp (the median of a log-normal, the MAE-optimal point of a symmetric log error).
"""

import argparse
import json
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from poeconomy_assets.core.evaluation import train_leagues_for
from poeconomy_assets.core.features import build_features, league_phase, target_column
from poeconomy_assets.core.ingest import read_dump_dir
from poeconomy_assets.core.metrics import scorecard
from poeconomy_assets.core.models import SelectionConfig, select_currencies
from poeconomy_assets.core.prices import league_order
from poeconomy_assets.core.schemas import HORIZON_DAYS, HORIZONS

ROOT = Path(__file__).resolve().parents[1]
MAX_STEP = max(HORIZON_DAYS.values())
METHODS = (
    "persistence",
    "phase_median",
    "day_median",
    "mlf_direct",
    "mlf_direct_tuned",
    "mlf_recursive",
    "statsforecast",
)
# LightGBM settings of the mlforecast methods: mlf_* use "default"; mlf_direct_tuned picks one per horizon on the
# league before the held-out one (trained on the leagues before that one), then refits it on every earlier league.
LGB_GRID = {
    "default": {"num_leaves": 31, "min_child_samples": 100, "n_estimators": 300, "learning_rate": 0.05},
    "small": {"num_leaves": 7, "min_child_samples": 1000, "n_estimators": 200, "learning_rate": 0.05},
    "medium": {"num_leaves": 15, "min_child_samples": 300, "n_estimators": 300, "learning_rate": 0.05},
    "large": {"num_leaves": 63, "min_child_samples": 50, "n_estimators": 300, "learning_rate": 0.05},
}
STATS_MODELS = ("sf_autoets", "sf_autotheta", "sf_theta")
PHASE_MIN_RETURNS = 10  # an item's phase median needs this many earlier returns; else 0 (persistence)
STATS_MIN_DAYS = 7  # AutoETS refuses shorter series ("tiny datasets"); the same floor for the three models
INSTALL_HINT = "install the bench extra: .venv/bin/uv pip install --python .venv/bin/python -e '.[bench]'"


def rel_mae(scores: dict) -> float:
    """The relative MAE of a scorecard (or one item's scores): the one place that knows the metric's key."""
    return scores["mase"]


def _require(module: str):
    """Import an optional dependency of the `bench` extra, or exit with how to install it."""
    try:
        return __import__(module)
    except ImportError:
        sys.exit(f"bench_anchors: {module} is missing; {INSTALL_HINT}")


@dataclass
class HeldOut:
    """A held-out league: its training leagues, eligible items and the points to forecast per horizon."""

    league: str
    train_leagues: list[str]
    items: list[str]
    points: dict[str, pl.DataFrame]  # horizon -> currency, league_day, price_chaos, actual_chaos


def held_out(prices: pl.DataFrame, features: pl.DataFrame, league: str) -> HeldOut:
    """The backtest's items and points for ``league`` (backtest_league's selection and targets)."""
    train_leagues = train_leagues_for(prices, league)
    if not train_leagues:
        raise SystemExit(f"bench_anchors: no league ended before {league!r}: nothing to train on")
    test = features.filter(pl.col("league") == league)
    chosen = select_currencies(
        prices.filter(pl.col("league").is_in(train_leagues)),
        SelectionConfig(live_league=league),
        live_items=set(test["currency"].unique().to_list()),
    )
    points = {}
    for horizon in HORIZONS:
        target = target_column(horizon)
        rows = test.filter(pl.col("currency").is_in(chosen.selected) & pl.col(target).is_not_null())
        points[horizon] = rows.select(
            "currency",
            "league_day",
            "price_chaos",
            (pl.col("price_chaos") * pl.col(target).exp()).alias("actual_chaos"),
        )
    return HeldOut(league, train_leagues, chosen.selected, points)


def score(points: pl.DataFrame, forecast: np.ndarray) -> dict:
    """The project's scorecard of ``forecast`` on ``points``: mean over items of relative MAE, share below 1.0."""
    if np.isnan(forecast).any():
        raise ValueError(f"{int(np.isnan(forecast).sum())} points have no forecast")
    card = scorecard(points.with_columns(forecast_chaos=forecast))
    per_item = np.array([rel_mae(v) for v in card["per_currency"].values()], dtype=float)
    per_item = per_item[np.isfinite(per_item)]
    # The same figure recomputed without the scorer (sum of errors per item, polars): a check of the path.
    check = (
        points.with_columns(
            model=(pl.col("actual_chaos") - forecast).abs(),
            base=(pl.col("actual_chaos") - pl.col("price_chaos")).abs(),
        )
        .group_by("currency")
        .agg(ratio=pl.col("model").sum() / pl.col("base").sum())
        .filter(pl.col("ratio").is_finite())["ratio"]
        .mean()
    )
    if not np.isclose(check, rel_mae(card), rtol=1e-9):
        raise AssertionError(f"scorer says {rel_mae(card)}, a direct recomputation {check}")
    return {
        "rel_mae": float(rel_mae(card)),
        "share_below_1": float(np.mean(per_item < 1.0)),
        "items": int(per_item.size),
        "points": int(points.height),
    }


def daily_series(prices: pl.DataFrame, leagues: list[str], items: list[str] | None = None) -> pl.DataFrame:
    """One series per league x item: unique_id, ds (league day), y (log price; a missing day repeats the day
    before), observed (a real price that day). Sorted by unique_id, ds."""
    rows = prices.filter(pl.col("league").is_in(leagues))
    if items is not None:
        rows = rows.filter(pl.col("currency").is_in(items))
    rows = rows.select(
        (pl.col("league") + "|" + pl.col("currency")).alias("unique_id"),
        pl.col("league_day").alias("ds"),
        pl.col("price_chaos").log().alias("y"),
    )
    calendar = (
        rows.group_by("unique_id")
        .agg(pl.int_ranges(pl.col("ds").min(), pl.col("ds").max() + 1).first().alias("ds"))
        .explode("ds")
    )
    return (
        calendar.join(rows, on=["unique_id", "ds"], how="left")
        .sort("unique_id", "ds")
        .with_columns(
            pl.col("y").is_not_null().alias("observed"), pl.col("y").forward_fill().over("unique_id")
        )
    )


def step_forecasts_to_points(
    held: HeldOut, steps: pl.DataFrame
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Price forecasts aligned with each horizon's points, from (currency, origin, step, log_forecast) rows, and
    per horizon how many points had no row and were given persistence."""
    out, fallbacks = {}, {}
    for horizon, points in held.points.items():
        rows = steps.filter(pl.col("step") == HORIZON_DAYS[horizon]).select(
            "currency", pl.col("origin").alias("league_day"), "log_forecast"
        )
        joined = points.join(rows, on=["currency", "league_day"], how="left", maintain_order="left")
        missing = joined["log_forecast"].is_null().to_numpy()
        out[horizon] = np.where(
            missing,
            joined["price_chaos"].to_numpy(),
            np.exp(joined["log_forecast"].fill_null(0.0).to_numpy()),
        )
        fallbacks[horizon] = int(missing.sum())
    return out, fallbacks


def origins_of(held: HeldOut) -> pl.DataFrame:
    """Every (currency, league_day) that is the origin of at least one point."""
    return pl.concat([p.select("currency", "league_day") for p in held.points.values()]).unique()


# --- methods: each returns {horizon: price forecasts aligned with held.points[horizon]} -------------------------


def persistence(held: HeldOut, **_) -> dict[str, np.ndarray]:
    return {h: p["price_chaos"].to_numpy() for h, p in held.points.items()}


def phase_median(held: HeldOut, features: pl.DataFrame, **_) -> dict[str, np.ndarray]:
    """Persistence times exp(the item's median h-day log return in the same league phase of earlier leagues)."""
    train = features.filter(pl.col("league").is_in(held.train_leagues))
    out = {}
    for horizon, points in held.points.items():
        medians = (
            train.filter(pl.col(target_column(horizon)).is_not_null())
            .with_columns(_phase(pl.col("league_day")))
            .group_by("currency", "phase")
            .agg(pl.col(target_column(horizon)).median().alias("shift"), pl.len().alias("n"))
            .filter(pl.col("n") >= PHASE_MIN_RETURNS)
        )
        joined = points.with_columns(_phase(pl.col("league_day"))).join(
            medians, on=["currency", "phase"], how="left", maintain_order="left"
        )
        out[horizon] = points["price_chaos"].to_numpy() * np.exp(joined["shift"].fill_null(0.0).to_numpy())
    return out


def day_median(held: HeldOut, features: pl.DataFrame, **_) -> dict[str, np.ndarray]:
    """Persistence times exp(the median h-day log return of every item on the same league day of earlier
    leagues)."""
    train = features.filter(pl.col("league").is_in(held.train_leagues))
    out = {}
    for horizon, points in held.points.items():
        medians = (
            train.filter(pl.col(target_column(horizon)).is_not_null())
            .group_by("league_day")
            .agg(pl.col(target_column(horizon)).median().alias("shift"))
        )
        joined = points.join(medians, on="league_day", how="left", maintain_order="left")
        out[horizon] = points["price_chaos"].to_numpy() * np.exp(joined["shift"].fill_null(0.0).to_numpy())
    return out


def _phase(league_day: pl.Expr) -> pl.Expr:
    """The project's league phase (core.features.build.league_phase) as a polars column ``phase``."""
    return league_day.map_batches(
        lambda days: pl.Series(league_phase(days.to_numpy()), dtype=pl.Int64), return_dtype=pl.Int64
    ).alias("phase")


def _league_day(ds: np.ndarray) -> np.ndarray:
    return np.asarray(ds)


def _weekday(ds: np.ndarray) -> np.ndarray:
    return np.asarray(ds) % 7


def mlforecast_steps(
    held: HeldOut, prices: pl.DataFrame, direct: bool, config: str, seed: int, threads: int
) -> tuple[pl.DataFrame, dict]:
    """(currency, origin, step, log_forecast) from every origin of ``held`` with LightGBM settings ``config``
    (of LGB_GRID), and facts about the fit."""
    _require("mlforecast")
    lgb = _require("lightgbm")
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean, RollingStd
    from mlforecast.target_transforms import Differences

    warnings.filterwarnings("ignore", message="Found null values")  # dropna=False keeps them on purpose
    model = lgb.LGBMRegressor(
        objective="l1",
        **LGB_GRID[config],
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        random_state=seed,
        n_jobs=threads,
        deterministic=True,
        force_row_wise=True,
        verbose=-1,
    )
    forecaster = MLForecast(
        models={"lgb": model},
        freq=1,
        lags=[1, 2, 3, 7, 14],
        lag_transforms={
            1: [
                RollingMean(3, min_samples=1),
                RollingMean(7, min_samples=1),
                RollingMean(14, min_samples=1),
                RollingStd(7, min_samples=2),
                RollingStd(14, min_samples=2),
            ]
        },
        date_features=[_league_day, _weekday],
        target_transforms=[Differences([1])],
    )
    train = daily_series(prices, held.train_leagues).select("unique_id", "ds", "y").to_pandas()
    started = time.perf_counter()
    forecaster.fit(train, static_features=[], dropna=False, max_horizon=MAX_STEP if direct else None)
    fit_seconds = time.perf_counter() - started
    test = daily_series(prices, [held.league], held.items)
    test = test.with_columns(
        pl.col("unique_id").str.split_exact("|", 1).struct.field("field_1").alias("currency"),
        pl.col("observed").cum_sum().over("unique_id").alias("seen"),
    )
    origins = origins_of(held)
    parts = []
    for (day,), wanted in origins.partition_by("league_day", as_dict=True).items():
        ready = test.filter(
            (pl.col("ds") == day)
            & pl.col("currency").is_in(wanted["currency"].to_list())
            & (pl.col("seen") >= 2)
        )["unique_id"]
        if ready.is_empty():
            continue
        history = test.filter(pl.col("unique_id").is_in(ready.to_list()) & (pl.col("ds") <= day))
        predicted = forecaster.predict(MAX_STEP, new_df=history.select("unique_id", "ds", "y").to_pandas())
        parts.append(
            pl.from_pandas(predicted).select(
                pl.col("unique_id").str.split_exact("|", 1).struct.field("field_1").alias("currency"),
                pl.lit(day, dtype=pl.Int64).alias("origin"),
                (pl.col("ds") - day).cast(pl.Int64).alias("step"),
                pl.col("lgb").cast(pl.Float64).alias("log_forecast"),
            )
        )
    steps = pl.concat(parts)
    return steps, {"train_rows": len(train), "fit_seconds": round(fit_seconds, 1)}


def stats_steps(
    held: HeldOut, prices: pl.DataFrame, refit_every: int
) -> tuple[dict[str, pl.DataFrame], dict]:
    """Per statsforecast model, (currency, origin, step, log_forecast) from every origin with enough history."""
    _require("statsforecast")
    from statsforecast.models import AutoETS, AutoTheta, Theta

    makers = {
        "sf_autoets": lambda: AutoETS(season_length=1),
        "sf_autotheta": lambda: AutoTheta(season_length=1),
        "sf_theta": lambda: Theta(season_length=1),
    }
    test = daily_series(prices, [held.league], held.items)
    origins = origins_of(held)
    rows = {name: [] for name in makers}
    fallbacks = {name: 0 for name in makers}
    fits = {name: 0 for name in makers}
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    for (uid,), series in test.partition_by("unique_id", as_dict=True).items():
        currency = uid.split("|", 1)[1]
        days = np.sort(origins.filter(pl.col("currency") == currency)["league_day"].to_numpy())
        ds, y, seen = series["ds"].to_numpy(), series["y"].to_numpy(), series["observed"].cum_sum().to_numpy()
        for name, make in makers.items():
            fitted, fitted_on = None, None
            for day in days:
                end = int(np.searchsorted(ds, day)) + 1
                if seen[end - 1] < STATS_MIN_DAYS:
                    continue
                try:
                    if fitted is None or day - fitted_on >= refit_every:
                        fitted, fitted_on = make().fit(y[:end]), day
                        fits[name] += 1
                        mean = fitted.predict(MAX_STEP)["mean"]
                    else:
                        mean = fitted.forward(y[:end], MAX_STEP)["mean"]
                except Exception:  # noqa: BLE001 - a failed fit is forecast by persistence and counted
                    fitted, fallbacks[name] = None, fallbacks[name] + 1
                    continue
                rows[name].append((currency, int(day), np.asarray(mean, dtype=float)))
    frames = {}
    for name, found in rows.items():
        frames[name] = pl.DataFrame(
            {
                "currency": [c for c, _, m in found for _ in m],
                "origin": np.repeat([d for _, d, _ in found], MAX_STEP),
                "step": np.tile(np.arange(1, MAX_STEP + 1), len(found)),
                "log_forecast": np.concatenate([m for _, _, m in found]) if found else [],
            },
            schema={"currency": pl.Utf8, "origin": pl.Int64, "step": pl.Int64, "log_forecast": pl.Float64},
        )
    return frames, {"fits": fits, "fallbacks": fallbacks, "refit_every": refit_every}


# --- the run ------------------------------------------------------------------------------------------------


class Runner:
    """Scores methods on held-out leagues; what one league's method needs from another (the league before, for a
    choice) is computed once and reused."""

    def __init__(self, prices: pl.DataFrame, features: pl.DataFrame, args: argparse.Namespace, log) -> None:
        self.prices, self.features, self.args, self.log = prices, features, args, log
        self.order = league_order(prices)
        self.held: dict[str, HeldOut] = {}
        self.cache: dict[tuple, tuple[dict, float, dict]] = {}  # key -> (scores, seconds, facts)

    def held_out(self, league: str) -> HeldOut:
        if league not in self.held:
            self.held[league] = held_out(self.prices, self.features, league)
        return self.held[league]

    def before(self, league: str) -> HeldOut:
        """The league before ``league``, held out the same way: where choices are made."""
        return self.held_out(self.order[self.order.index(league) - 1])

    def scored(self, held: HeldOut, forecasts: dict[str, np.ndarray]) -> dict:
        return {h: score(held.points[h], forecasts[h]) for h in held.points}

    def mlforecast(self, league: str, direct: bool, config: str) -> tuple[dict, float, dict]:
        key = ("mlforecast", league, direct, config)
        if key not in self.cache:
            held, started = self.held_out(league), time.perf_counter()
            steps, facts = mlforecast_steps(
                held, self.prices, direct, config, self.args.seed, self.args.threads
            )
            forecasts, facts["persistence_points"] = step_forecasts_to_points(held, steps)
            self.cache[key] = (self.scored(held, forecasts), time.perf_counter() - started, facts)
        return self.cache[key]

    def statsforecast(self, league: str) -> tuple[dict, float, dict]:
        """Every statsforecast model's scores (one loop fits the three; the time is theirs together)."""
        key = ("statsforecast", league)
        if key not in self.cache:
            held, started = self.held_out(league), time.perf_counter()
            frames, facts = stats_steps(held, self.prices, self.args.refit_every)
            scores, facts["persistence_points"] = {}, {}
            for model, steps in frames.items():
                forecasts, facts["persistence_points"][model] = step_forecasts_to_points(held, steps)
                scores[model] = self.scored(held, forecasts)
            self.cache[key] = (scores, time.perf_counter() - started, facts)
        return self.cache[key]

    def league(self, league: str, methods: list[str]) -> dict:
        """Every method's scores on one held-out league, with timings (seconds include work reused from the league
        before, which a later league then gets for free)."""
        held = self.held_out(league)
        self.log(f"{league}: {len(held.items)} items, trained on {len(held.train_leagues)} earlier leagues")
        result = {
            "train_leagues": held.train_leagues,
            "items": len(held.items),
            "points": {h: p.height for h, p in held.points.items()},
            "methods": {},
            "seconds": {},
            "details": {},
        }

        def record(name: str, scores: dict, seconds: float, details: dict | None = None) -> None:
            result["methods"][name], result["seconds"][name] = scores, round(seconds, 1)
            if details:
                result["details"][name] = details
            figures = " / ".join(f"{scores[h]['rel_mae']:.3f}" for h in held.points)
            self.log(f"{league} {name}: {figures} ({seconds:.0f}s)")

        for name in methods:
            started = time.perf_counter()
            if name == "persistence":
                record(name, self.scored(held, persistence(held)), time.perf_counter() - started)
                for horizon, scores in result["methods"][name].items():
                    if scores["rel_mae"] != 1.0:
                        raise AssertionError(f"persistence scores {scores['rel_mae']} at {horizon}, not 1.0")
            elif name in ("phase_median", "day_median"):
                method = phase_median if name == "phase_median" else day_median
                record(name, self.scored(held, method(held, self.features)), time.perf_counter() - started)
            elif name in ("mlf_direct", "mlf_recursive"):
                record(name, *self.mlforecast(league, name == "mlf_direct", "default"))
            elif name == "mlf_direct_tuned":
                before = self.before(league).league
                validation = {c: self.mlforecast(before, True, c) for c in LGB_GRID}
                choice = {h: min(LGB_GRID, key=lambda c: validation[c][0][h]["rel_mae"]) for h in held.points}
                test = {c: self.mlforecast(league, True, c) for c in sorted(set(choice.values()))}
                scores = {h: test[choice[h]][0][h] | {"config": choice[h]} for h in held.points}
                seconds = sum(v[1] for v in validation.values()) + sum(v[1] for v in test.values())
                validation_scores = {
                    c: {h: v[0][h]["rel_mae"] for h in held.points} for c, v in validation.items()
                }
                record(
                    name,
                    scores,
                    seconds,
                    {"chosen_on": before, "choice": choice, "validation": validation_scores},
                )
            elif name == "statsforecast":
                scores, seconds, facts = self.statsforecast(league)
                before = self.before(league).league
                validation, validation_seconds, _ = self.statsforecast(before)
                result["details"]["statsforecast"] = facts
                for model in STATS_MODELS:
                    record(model, scores[model], seconds / len(STATS_MODELS))
                choice = {
                    h: min(STATS_MODELS, key=lambda m: validation[m][h]["rel_mae"]) for h in held.points
                }
                best = {h: scores[choice[h]][h] | {"model": choice[h]} for h in held.points}
                record("sf_best", best, seconds + validation_seconds, {"chosen_on": before, "choice": choice})
            else:
                raise SystemExit(f"bench_anchors: unknown method {name!r} (known: {', '.join(METHODS)})")
        return result


def markdown(results: dict, key: str, fmt: str) -> str:
    leagues = list(results)
    names = list(dict.fromkeys(m for r in results.values() for m in r["methods"]))
    lines = [
        f"| method ({' / '.join(HORIZONS)}) | " + " | ".join(leagues) + " |",
        "|---|" + "---|" * len(leagues),
    ]
    for name in names:
        cells = []
        for league in leagues:
            scores = results[league]["methods"].get(name)
            cells.append(" / ".join(format(scores[h][key], fmt) for h in HORIZONS) if scores else "")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def print_tables(results: dict) -> None:
    print("Relative MAE (mean over items of MAE / persistence's MAE), 1d / 3d / 7d:\n")
    print(markdown(results, "rel_mae", ".3f"))
    print("\nShare of items below 1.0, 1d / 3d / 7d:\n")
    print(markdown(results, "share_below_1", ".1%"))
    print("\nItems: " + ", ".join(f"{league} {r['items']}" for league, r in results.items()))


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("mlforecast", "statsforecast", "lightgbm", "polars", "numpy"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dumps", type=Path, default=ROOT.parent / "shared" / "data" / "poe-ninja")
    parser.add_argument(
        "--leagues", default="Crucible,Ancestor,Affliction", help="held-out leagues, comma-separated"
    )
    parser.add_argument(
        "--methods", default=",".join(METHODS), help=f"comma-separated, of {', '.join(METHODS)}"
    )
    parser.add_argument("--json", type=Path, help="also write every figure, timing and setting here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="LightGBM threads (the machine has 2 cores)")
    parser.add_argument("--refit-every", type=int, default=1, help="statsforecast refit interval, in days")
    parser.add_argument(
        "--tables",
        type=Path,
        nargs="+",
        help="print the tables of --json files (merged by league), run nothing",
    )
    args = parser.parse_args()
    if args.tables:
        merged: dict[str, dict] = {}
        for path in args.tables:
            for league, result in json.loads(path.read_text())["leagues"].items():
                merged.setdefault(league, {"methods": {}, "items": result["items"]})["methods"] |= result[
                    "methods"
                ]
        print_tables(merged)
        return
    methods = args.methods.split(",")
    unknown = set(methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)} (known: {', '.join(METHODS)})")
    if {"mlf_direct", "mlf_recursive"} & set(methods):
        _require("mlforecast")
    if "statsforecast" in methods:
        _require("statsforecast")

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    prices = read_dump_dir(args.dumps).prices
    order = league_order(prices)
    leagues = args.leagues.split(",")
    missing = [league for league in leagues if league not in order]
    if missing:
        parser.error(f"leagues {missing} are not in {args.dumps}")
    # Later leagues than the last held-out one are dropped before anything is built from the prices.
    prices = prices.filter(
        pl.col("league").is_in(order[: max(order.index(league) for league in leagues) + 1])
    )
    features = build_features(prices)
    runner, results, started = Runner(prices, features, args, log), {}, time.perf_counter()
    for league in leagues:
        league_started, cpu_started = time.perf_counter(), time.process_time()
        results[league] = runner.league(league, methods)
        results[league]["league_seconds"] = round(time.perf_counter() - league_started, 1)
        results[league]["league_cpu_seconds"] = round(time.process_time() - cpu_started, 1)
    print_tables(results)
    print(
        "Seconds per league, wall (CPU): "
        + ", ".join(
            f"{lg} {r['league_seconds']:.0f} ({r['league_cpu_seconds']:.0f})" for lg, r in results.items()
        )
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "command": " ".join(sys.argv),
            "versions": versions(),
            "settings": {"seed": args.seed, "threads": args.threads, "refit_every": args.refit_every},
            "seconds": round(time.perf_counter() - started, 1),
            "leagues": results,
        }
        args.json.write_text(json.dumps(report, indent=1))
        log(f"wrote {args.json}")


if __name__ == "__main__":
    main()
