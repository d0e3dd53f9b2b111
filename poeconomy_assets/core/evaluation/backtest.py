"""Honest backtests: train on the leagues that ended before a test league, forecast every day of it.

A forecast point is (currency, day t of the test league, horizon h) where the price at t + h is
known; the model sees only features at t (which never look ahead) and is trained only on earlier
leagues. Scores always sit next to persistence (price(t + h) = price(t)) on the same points.
"""

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import polars as pl

from poeconomy_assets.core.evaluation.strategy import (
    STRATEGY_BAND_COLUMNS,
    StrategySettings,
    follow_the_report,
    league_prices,
    strategy_horizon,
)
from poeconomy_assets.core.features import build_features, target_column
from poeconomy_assets.core.metrics import INTERVAL_KEYS, scorecard
from poeconomy_assets.core.models import (
    PROFILES,
    SelectionConfig,
    TrainingProfile,
    select_currencies,
    train_currency_model,
    train_pooled_model,
)
from poeconomy_assets.core.prices import league_order
from poeconomy_assets.core.progress import Progress
from poeconomy_assets.core.schemas import HORIZON_DAYS, HORIZONS
from poeconomy_assets.core.uncertainty import PhaseCalibrator, model_calibration, price_bands

SUMMARY_KEYS = ("rel_mae", "mape", "mae", "direction_accuracy", *INTERVAL_KEYS)
# The 13 long-history currencies of the old 18-league folder (every league since Essence/Harbinger).
LEGACY_CURRENCIES = (
    "Armourer's Scrap",
    "Blessing of Chayula",
    "Chayula's Breachstone",
    "Chromatic Orb",
    "Divine Orb",
    "Exalted Orb",
    "Mortal Ignorance",
    "Orb of Alteration",
    "Prime Sextant",
    "Regal Orb",
    "Splinter of Chayula",
    "Vaal Orb",
    "Xoph's Breachstone",
)
# "Liquid" items of a test league: priced on at least this many of its days, mostly at High confidence.
LIQUID_MIN_DAYS = 60
LIQUID_MIN_HIGH_SHARE = 0.9
WORKERS = 2  # horizons trained side by side: the fits release the GIL, so both cores work


def train_leagues_for(prices: pl.DataFrame, test_league: str) -> list[str]:
    """Every league that ended before ``test_league`` started (leagues never overlap)."""
    spans = prices.group_by("league").agg(
        pl.col("date").min().alias("start"), pl.col("date").max().alias("end")
    )
    if test_league not in spans["league"].to_list():
        raise ValueError(
            f"test league {test_league!r} is not in the data (have {sorted(spans['league'].to_list())})"
        )
    start = spans.filter(pl.col("league") == test_league)["start"][0]
    return spans.filter(pl.col("end") < start).sort("start")["league"].to_list()


def liquid_items(prices: pl.DataFrame, league: str) -> list[str]:
    """Items priced on ≥ LIQUID_MIN_DAYS days of ``league``, ≥ LIQUID_MIN_HIGH_SHARE of them at High confidence."""
    rows = prices.filter(pl.col("league") == league)
    high = (pl.col("confidence") == "High").mean() if "confidence" in rows.columns else pl.lit(1.0)
    stats = rows.group_by("currency").agg(pl.len().alias("days"), high.alias("high"))
    return sorted(
        stats.filter((pl.col("days") >= LIQUID_MIN_DAYS) & (pl.col("high") >= LIQUID_MIN_HIGH_SHARE))[
            "currency"
        ].to_list()
    )


def backtest_league(
    prices: pl.DataFrame,
    test_league: str,
    profile: TrainingProfile | str = "development",
    horizons: Sequence[str] = HORIZONS,
    currencies: Sequence[str] | None = None,
    seed: int = 0,
    log: Callable[[str], None] = lambda message: None,
    selection: SelectionConfig | None = None,
    workers: int = WORKERS,
    on_points: Callable[[str, str, pl.DataFrame], None] | None = None,
) -> dict:
    """The scorecard of ``test_league`` in the shape ``poeconomy backtest --json`` writes.

    Items: those of the test league that pass the eligibility rule (``selection``) on the training
    leagues' history; the others are in ``items_skipped`` with the reason. Each horizon fits its pooled
    model once, then every item's model from it (own models only where the profile allows and
    validation prefers them). ``on_points(league, horizon, points)`` receives each horizon's out-of-sample
    forecast points (what ``poeconomy backtest --save-forecasts`` stores so the track record can be replayed
    without retraining)."""
    profile = PROFILES[profile] if isinstance(profile, str) else profile
    started = time.perf_counter()
    train_leagues = train_leagues_for(prices, test_league)
    if not train_leagues:
        raise ValueError(f"no league ended before {test_league!r}: nothing to train on")
    # Later leagues are dropped before features are built, so not even a profile can see them.
    features = build_features(prices.filter(pl.col("league").is_in([*train_leagues, test_league])))
    train = features.filter(pl.col("league").is_in(train_leagues))
    test = features.filter(pl.col("league") == test_league)
    rule = selection or SelectionConfig()
    live = set(test["currency"].unique().to_list())
    chosen = select_currencies(
        prices.filter(pl.col("league").is_in(train_leagues)),
        SelectionConfig(
            rule.profile,
            rule.min_days,
            rule.min_reliable_rows,
            rule.min_avg_price,
            tuple(currencies or ()),
            live_league=test_league,
        ),
        live_items=live,
    )
    wanted = chosen.selected
    if not wanted:
        raise ValueError(
            f"no currency of {test_league!r} has enough training history (asked for {currencies}; "
            f"skipped: {dict(list(chosen.excluded.items())[:5])})"
        )
    log(
        f"{test_league}: {len(wanted)} of its {len(live)} items to forecast; "
        f"{train.height} training rows from {len(train_leagues)} leagues"
    )
    subsets = {
        "legacy": [c for c in LEGACY_CURRENCIES if c in wanted],
        "liquid": [c for c in liquid_items(prices, test_league) if c in wanted],
    }
    progress = Progress(len(wanted) * len(horizons), test_league, log, unit="item models")

    def one_horizon(horizon: str) -> dict:
        fit_started = time.perf_counter()
        pooled = train_pooled_model(train, horizon, profile, seed)
        log(
            f"{test_league} {horizon}: pooled model fitted ({pooled.trials} search trials) in "
            f"{time.perf_counter() - fit_started:.0f}s"
        )
        return _score_horizon(train, test, wanted, horizon, profile, seed, pooled, progress, subsets)

    result = {
        "test_league": test_league,
        "train_leagues": train_leagues,
        "profile": profile.name,
        "horizons": {},
    }
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(horizons)))) as pool:
        scored = list(pool.map(one_horizon, horizons))
    result["horizons"] = {horizon: card for horizon, (card, _) in zip(horizons, scored)}
    points = {horizon: frame for horizon, (_, frame) in zip(horizons, scored)}
    if on_points is not None:
        for horizon, frame in points.items():
            on_points(test_league, horizon, frame)
    # Only the test league's items: an item of earlier leagues that does not trade in it is not "skipped".
    result["items_skipped"] = {
        c: r for c, r in chosen.excluded.items() if c in live or c in (currencies or ())
    }
    result["subset_items"] = subsets
    result["league_seconds"] = round(time.perf_counter() - started, 1)
    # The track record: follow the report on this league (core.evaluation.strategy).
    result["strategy"] = follow_the_report(
        points[strategy_horizon(points)],
        league_prices(prices, test_league),
        StrategySettings(horizon=strategy_horizon(points)),
    )
    return result


def _score_horizon(
    train: pl.DataFrame,
    test: pl.DataFrame,
    wanted: list[str],
    horizon: str,
    profile: TrainingProfile,
    seed: int,
    pooled,
    progress: Progress,
    subsets: dict[str, list[str]],
) -> tuple[dict, pl.DataFrame]:
    """One horizon's scorecard, and its forecast points (what the track record follows)."""
    target = target_column(horizon)
    trained, scopes, gated, gates = [], {}, [], {}
    for currency in wanted:
        model = train_currency_model(train, currency, horizon, profile=profile, seed=seed, pooled=pooled)
        trained.append((currency, model, model_calibration(train, model)))
        scopes[currency] = model.info.get("scope")
        gates[currency] = model.gate.as_dict()
        if not model.gate.use_model:
            gated.append(currency)
        progress.step()
    # Intervals: each currency's own walk-forward residuals, everyone's when it has too few (per phase).
    pooled_residuals = pl.concat([calibration for _, _, calibration in trained])
    test_rows = test.filter(pl.col(target).is_not_null()).partition_by("currency", as_dict=True)
    parts, methods = [], {}
    for currency, model, calibration in trained:
        rows = test_rows.get((currency,))
        if rows is None or rows.is_empty():
            continue
        predicted = model.predict(rows)
        price = rows["price_chaos"].to_numpy()
        model_band = PhaseCalibrator(calibration, pooled_residuals, HORIZON_DAYS[horizon], seed)
        # The same calibration around persistence (a 0 log return): what the model's band is compared with.
        persistence_band = PhaseCalibrator(
            calibration.with_columns(residual=pl.col("target")),
            pooled_residuals.with_columns(residual=pl.col("target")),
            HORIZON_DAYS[horizon],
            seed,
        )
        bands = price_bands(rows, predicted, model_band, horizon)
        persistence = price_bands(
            rows, np.zeros(rows.height), persistence_band, horizon, prefix="persistence_"
        )
        methods[currency] = model_band.describe()
        parts.append(
            pl.DataFrame(
                {
                    "currency": currency,
                    "date": rows["date"],
                    "price_chaos": price,
                    "actual_chaos": price * np.exp(rows[target].to_numpy()),
                    "forecast_chaos": price * np.exp(predicted),
                }
            )
            .hstack(bands.select("lower_80", "upper_80", "lower_95", "upper_95", *STRATEGY_BAND_COLUMNS))
            .hstack(persistence.select("persistence_lower_80", "persistence_upper_80"))
        )
    points = pl.concat(parts)
    card = scorecard(points) | {"interval_methods": methods}
    card |= _spread_of(card["per_currency"])
    card["own_models"] = sorted(c for c, scope in scopes.items() if scope == "own")
    # The skill gate: items forecast as "no change" (no proven skill on their validation days).
    card["gated_items"] = sorted(c for c in gated if c in card["per_currency"])
    card["share_gated"] = len(card["gated_items"]) / max(1, len(card["per_currency"]))
    # each item's gate decision and its evidence, and the level chosen on the validation leagues
    card["gates"] = {c: gate for c, gate in gates.items() if c in card["per_currency"]}
    card["gate_level"] = pooled.gate.as_dict()
    card["subsets"] = {}
    for name, items in subsets.items():
        subset_points = points.filter(pl.col("currency").is_in(items))
        if subset_points.is_empty():
            continue
        sub = scorecard(subset_points)
        card["subsets"][name] = (
            {k: v for k, v in sub.items() if k != "per_currency"}
            | _spread_of(sub["per_currency"])
            | {"share_gated": len([c for c in items if c in card["gated_items"]]) / max(1, len(items))}
        )
    return card, points


def _spread_of(per_currency: dict[str, dict]) -> dict:
    """How the items' relative MAEs spread: how many evaluated, the share below 1.0, the worst."""
    values = [
        v["rel_mae"]
        for v in per_currency.values()
        if v.get("rel_mae") is not None and np.isfinite(v["rel_mae"])
    ]
    worst = max(
        per_currency,
        key=lambda c: per_currency[c]["rel_mae"] if np.isfinite(per_currency[c]["rel_mae"]) else -1,
        default=None,
    )
    return {
        "items": len(values),
        "share_below_1": float(np.mean(np.array(values) < 1.0)) if values else float("nan"),
        "share_above_1": float(np.mean(np.array(values) > 1.0)) if values else float("nan"),
        "worst_item": worst,
        "worst_rel_mae": float(max(values)) if values else float("nan"),
    }


def rolling_backtest(
    prices: pl.DataFrame,
    n_leagues: int,
    profile: TrainingProfile | str = "development",
    done: dict[str, dict] | None = None,
    on_league: Callable[[str, dict], None] = lambda league, result: None,
    last_league: str | None = None,
    **settings: Any,
) -> dict:
    """Backtest each of the ``n_leagues`` leagues up to ``last_league`` (default: the newest) in turn; their
    scorecards and the averages. ``settings`` are backtest_league's (horizons, currencies, seed, log, selection);
    ``done`` holds scorecards already computed with the same settings (reused, not recomputed)."""
    order = league_order(prices)
    if last_league is not None and last_league not in order:
        raise ValueError(f"test league {last_league!r} is not in the data")
    end = order.index(last_league) + 1 if last_league else len(order)
    leagues = order[max(0, end - n_leagues) : end]
    done = done or {}
    per_league = {}
    log = settings.get("log") or (lambda message: None)
    for i, league in enumerate(leagues, start=1):
        log(f"rolling: league {i}/{len(leagues)} ({league})")
        per_league[league] = done.get(league) or backtest_league(prices, league, profile, **settings)
        on_league(league, per_league[league])
    return {
        "leagues": leagues,
        "per_league": per_league,
        "horizons": average_scorecards(list(per_league.values())),
    }


def average_scorecards(results: list[dict]) -> dict:
    """Per horizon, the unweighted mean over leagues of each summary score, and the total point count."""
    averaged = {}
    for horizon in results[0]["horizons"]:
        cards = [r["horizons"][horizon] for r in results]
        averaged[horizon] = {
            k: _mean_of_known([c.get(k) for c in cards])
            for k in (*SUMMARY_KEYS, "share_below_1", "share_above_1", "share_gated")
        }
        averaged[horizon]["n"] = int(sum(c["n"] for c in cards))
        averaged[horizon]["per_league_rel_mae"] = {
            r["test_league"]: r["horizons"][horizon]["rel_mae"] for r in results
        }
        for key in (
            "coverage_80",
            "coverage_95",
            "share_below_1",
            "share_above_1",
            "share_gated",
            "worst_rel_mae",
        ):
            averaged[horizon][f"per_league_{key}"] = {
                r["test_league"]: r["horizons"][horizon].get(key) for r in results
            }
        names = sorted({name for c in cards for name in c.get("subsets", {})})
        if names:
            averaged[horizon]["subsets"] = {}
            for name in names:
                subs = [c["subsets"][name] for c in cards if name in c.get("subsets", {})]
                averaged[horizon]["subsets"][name] = {
                    **{
                        k: _mean_of_known([s.get(k) for s in subs])
                        for k in (*SUMMARY_KEYS, "share_below_1", "share_above_1", "share_gated")
                    },
                    "worst_rel_mae": max(
                        (s.get("worst_rel_mae", float("nan")) for s in subs), default=float("nan")
                    ),
                    "n": int(sum(s["n"] for s in subs)),
                    "per_league_rel_mae": {
                        r["test_league"]: r["horizons"][horizon]["subsets"][name]["rel_mae"]
                        for r in results
                        if name in r["horizons"][horizon].get("subsets", {})
                    },
                }
    return averaged


def _mean_of_known(values: list) -> float:
    """The mean of the values that are known (not None or NaN); NaN when none is (e.g. no interval scores)."""
    known = [float(v) for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(known)) if known else float("nan")
