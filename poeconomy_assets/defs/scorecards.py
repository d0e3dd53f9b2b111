"""Scorecards: how past forecasts of the live league did (and whether they drift), and the backtest."""

import json
import time

import dagster as dg
import polars as pl

from poeconomy_assets.core.evaluation import (
    DriftRules,
    backtest_league,
    band_verdict,
    horizon_summary,
    realized_points,
    score_realized,
    scorecard_chart_png,
    strategy_chart_png,
)
from poeconomy_assets.core.keys import key_from_name
from poeconomy_assets.core.prices import league_order
from poeconomy_assets.core.report import frame_to_markdown, png_markdown, track_record_sentence
from poeconomy_assets.defs.partitions import currency_horizon_key
from poeconomy_assets.defs.reports import TRACK_RECORD
from poeconomy_assets.defs.ui_metadata import number, table_value
from poeconomy_assets.resources.report_store import ReportStore
from poeconomy_assets.resources.training_settings import ProfileName

DRIFT_CHECK = "forecast_scorecard_drift"
DRIFT_CHECK_KEY = dg.AssetCheckKey(dg.AssetKey("forecast_scorecard"), DRIFT_CHECK)


class ScorecardConfig(dg.Config):
    """When realized forecasts count as drifting (see core.scorecard.DriftRules)."""

    window_days: int = 14
    rel_mae_limit: float = 1.1  # on the relative MAE (model MAE / persistence MAE); the name predates it
    rel_mae_horizons: list[str] = ["7d"]  # noqa: RUF012 (pydantic copies field defaults)
    coverage_drop: float = 0.10  # below nominal 80%, in share points: bands too narrow
    coverage_excess: float = 0.10  # above nominal 80%, in share points: bands too wide
    min_points: int = 7


def _as_backtest_shape(card: pl.DataFrame) -> dict[str, dict]:
    """Realized scores in the backtest's per-horizon shape (what the scorecard chart draws)."""
    summary = {row["horizon"]: row for row in horizon_summary(card).iter_rows(named=True)}
    return {
        h: {**summary[h], "per_currency": {r["currency"]: r for r in rows.iter_rows(named=True)}}
        for (h,), rows in card.group_by("horizon")
    }


@dg.asset(
    group_name="scorecards",
    ins={
        "price_forecasts": dg.AssetIn(partition_mapping=dg.AllPartitionMapping()),
        "daily_prices": dg.AssetIn(partition_mapping=dg.AllPartitionMapping()),
    },
    check_specs=[
        dg.AssetCheckSpec(
            DRIFT_CHECK,
            asset="forecast_scorecard",
            description="Fails when realized 7d relative MAE > 1.1, or realized 80% coverage is below 70% (bands too "
            "narrow) or above 90% (bands too wide), for some currency × horizon; drift_sensor then "
            "retrains those partitions.",
        )
    ],
    kinds={"polars"},
)
def forecast_scorecard(
    context: dg.AssetExecutionContext,
    config: ScorecardConfig,
    price_forecasts: pl.DataFrame,
    daily_prices: pl.DataFrame,
):  # no return annotation: the check output has its own type
    """Realized accuracy of the live league's past forecasts over the last 14 days whose outcome is known:
    relative MAE against persistence and interval coverage, per horizon and currency."""
    rules = DriftRules(
        window_days=config.window_days,
        rel_mae_limit=config.rel_mae_limit,
        rel_mae_horizons=tuple(config.rel_mae_horizons),
        coverage_drop=config.coverage_drop,
        coverage_excess=config.coverage_excess,
        min_points=config.min_points,
    )
    league = league_order(daily_prices)[-1]
    points = realized_points(price_forecasts, daily_prices, league, rules.window_days)
    card = score_realized(points, rules)
    drifting = card.filter(pl.col("drift"))
    keys = [str(currency_horizon_key(r["currency"], r["horizon"])) for r in drifting.iter_rows(named=True)]
    context.log.info(f"{league}: {points.height} realized forecasts scored, {drifting.height} drifting")
    summary = horizon_summary(card)
    metadata: dict = {
        "league": league,
        "scored_forecasts": points.height,
        "currency_horizons": card.height,
        "drifting": drifting.height,
        "bands_too_narrow": card.filter(pl.col("bands") == "too narrow").height,
        "bands_too_wide": card.filter(pl.col("bands") == "too wide").height,
        "by_horizon": table_value(summary),
        # ~230 currencies × 3 horizons: the drifting ones first, then the worst relative MAE (the parquet has all)
        "worst": table_value(
            card.sort(["drift", "rel_mae"], descending=True, nulls_last=True).select(
                "horizon", "currency", "n", "rel_mae", "coverage_80", "coverage_95", "bands", "drift_reason"
            ),
            max_rows=20,
        ),
    }
    if card.height:
        chart = scorecard_chart_png(
            _as_backtest_shape(card), f"{league}: realized, last {rules.window_days} days"
        )
        metadata["chart"] = dg.MetadataValue.md(png_markdown(chart, "realized scorecard"))
    for row in summary.iter_rows(named=True):
        metadata[f"rel_mae_{row['horizon']}"] = number(row["rel_mae"])
        metadata[f"coverage_80_{row['horizon']}"] = number(row["coverage_80"])
    check = dg.AssetCheckResult(
        check_name=DRIFT_CHECK,
        passed=drifting.is_empty(),
        severity=dg.AssetCheckSeverity.WARN,  # a signal to retrain (drift_sensor), not broken data
        metadata={
            "drifting_partitions": dg.MetadataValue.json(keys),
            "reasons": dg.MetadataValue.md(
                frame_to_markdown(
                    drifting.select("currency", "horizon", "n", "rel_mae", "coverage_80", "drift_reason")
                )
            ),
            "too_narrow": int((drifting["bands"] == "too narrow").sum()),
            "too_wide": int((drifting["bands"] == "too wide").sum()),
            "league": league,
        },
    )
    return dg.MaterializeResult(value=card, metadata=metadata, check_results=[check])


class BacktestConfig(dg.Config):
    """Which training profile the backtest uses (``test`` keeps it to a minute or two)."""

    profile: ProfileName = "test"
    horizons: list[str] = ["1d", "3d", "7d"]  # noqa: RUF012 (pydantic copies field defaults)


@dg.asset(
    group_name="scorecards",
    ins={"daily_prices": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())},
    kinds={"lightgbm", "xgboost", "scikitlearn"},
    pool="training",
)
def backtest_scorecard(
    context: dg.AssetExecutionContext,
    config: BacktestConfig,
    daily_prices: pl.DataFrame,
    report_store: ReportStore,
) -> dg.MaterializeResult[dict]:
    """The backtest of the latest league (trained only on the leagues before it): relative MAE against persistence
    and interval coverage per horizon and currency, the same scorecard ``poeconomy backtest`` writes, and the
    track record of following the report on that league (strategy vs holding chaos and divines)."""
    started = time.perf_counter()
    league = league_order(daily_prices)[-1]
    result = backtest_league(
        daily_prices, league, config.profile, horizons=config.horizons, log=context.log.debug
    )
    result["seconds"] = round(time.perf_counter() - started, 1)
    rules = DriftRules()
    rows = [
        {
            "horizon": h,
            "rel_mae": c["rel_mae"],
            "direction_accuracy": c["direction_accuracy"],
            "coverage_80": c.get("coverage_80"),
            "coverage_95": c.get("coverage_95"),
            "bands": band_verdict(c.get("coverage_80"), c["n"], rules) or "ok",
            "mean_relative_width": c.get("mean_relative_width"),
            "persistence_relative_width": c.get("persistence_relative_width"),
            "n": c["n"],
        }
        for h, c in result["horizons"].items()
    ]
    per_currency = pl.DataFrame(
        [
            {
                "horizon": h,
                "currency": cur,
                **{
                    k: s.get(k) for k in ("rel_mae", "coverage_80", "coverage_95", "mean_relative_width", "n")
                },
            }
            for h, c in result["horizons"].items()
            for cur, s in c["per_currency"].items()
        ]
    )
    chart = scorecard_chart_png(result["horizons"], f"{league} held out (profile {config.profile})")
    strategy = result.get("strategy")
    metadata: dict = {
        "test_league": league,
        "league_key": key_from_name(league),
        "train_leagues": len(result["train_leagues"]),
        "profile": config.profile,
        "by_horizon": table_value(pl.DataFrame(rows)),
        "worst_currencies": table_value(
            per_currency.sort("rel_mae", descending=True, nulls_last=True), max_rows=20
        ),
        "chart": dg.MetadataValue.md(png_markdown(chart, "backtest scorecard")),
        **{f"rel_mae_{r['horizon']}": number(r["rel_mae"]) for r in rows},
        **{
            f"coverage_80_{r['horizon']}": number(r["coverage_80"])
            for r in rows
            if r["coverage_80"] is not None
        },
        "seconds": result["seconds"],
    }
    if strategy:
        report_store.write(
            TRACK_RECORD,
            "json",
            json.dumps({"test_league": league, "profile": config.profile, "strategy": strategy}, default=str),
        )
        metadata.update(
            {
                "track_record": track_record_sentence({"test_league": league, "strategy": strategy}),
                "strategy_return": number(strategy["return"]),
                "hold_divine_return": number(strategy["hold_divine_return"]),
                "strategy_max_drawdown": number(strategy["max_drawdown"]),
                "strategy_hit_rate": number(strategy["hit_rate"]),
                "strategy_trades": len(strategy["trades"]),
                "strategy_curve": table_value(
                    pl.DataFrame(strategy["curve"]).drop("hold_chaos"), max_rows=30
                ),
                "strategy_chart": dg.MetadataValue.md(
                    png_markdown(strategy_chart_png(strategy, league), "track record")
                ),
            }
        )
    return dg.MaterializeResult(value=result, metadata=metadata)
