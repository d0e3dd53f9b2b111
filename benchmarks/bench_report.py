"""Investment report for 500 simulated currencies: build, charts and HTML, against the 10 s target.

    nice -n 10 .venv/bin/python benchmarks/bench_report.py [--currencies 500] [--repeat 3]

Prices come from ``core.simulator`` (one league of 500 currencies). Forecasts are made for every day of
the league at 1d/3d/7d (what ``price_forecasts`` stores: ~100k rows), with scaled conformal intervals
from ``core.intervals`` calibrated on a persistence-plus-noise model's residuals, so the report sees
realistic columns without training 1,500 models. Timed: ``build_report`` (ranking, data quality,
correlations, allocation, triggers), both charts, and the HTML page; wall clock and this process's CPU time.
"""

import argparse
import time

import numpy as np
import polars as pl

from poeconomy_assets.core.features import build_features
from poeconomy_assets.core.prices import add_divine_prices, add_league_day
from poeconomy_assets.core.report import (
    ReportSettings,
    allocation_chart_png,
    build_report,
    fan_chart_png,
    latest_forecasts,
    report_html,
)
from poeconomy_assets.core.uncertainty import PhaseCalibrator, add_divine_columns, price_bands
from poeconomy_assets.sim.simulator import SimulationConfig, simulate_prices


def simulated_inputs(n_currencies: int, seed: int = 3) -> tuple[pl.DataFrame, pl.DataFrame]:
    raw = simulate_prices(
        SimulationConfig(
            n_leagues=1, n_currencies=n_currencies, seed=seed, min_days=35, max_days=35, late_share=0.0
        )
    )
    prices = add_divine_prices(
        add_league_day(
            raw.select(
                pl.col("League").alias("league"),
                pl.col("Get").alias("currency"),
                pl.col("Date").alias("date"),
                pl.col("Value").alias("price_chaos"),
                pl.col("Confidence").alias("confidence"),
            )
        )
    )
    features = build_features(prices)
    rng = np.random.default_rng(seed)
    parts = []
    for horizon in ("1d", "3d", "7d"):
        target = features[f"target_logret_{horizon}"].to_numpy()
        point = 0.3 * np.nan_to_num(target) + rng.normal(
            0, 0.02, features.height
        )  # a weakly informed forecast
        calibration = features.select(
            "league_day", scale=pl.coalesce("vol_14d", "vol_7d").fill_null(0.03)
        ).with_columns(residual=pl.Series(np.nan_to_num(target) - point))
        band = PhaseCalibrator(calibration, calibration, int(horizon[0]))
        bounds = price_bands(features, point, band, horizon)
        parts.append(
            features.select("league", "currency", pl.col("date").alias("as_of"), "league_day", "price_chaos")
            .with_columns(horizon=pl.lit(horizon), forecast_source=pl.lit("model"))
            .hstack(bounds.rename({"median_chaos": "forecast_chaos"}))  # the distribution's median
            .with_columns(expected_return=pl.col("forecast_chaos") / pl.col("price_chaos") - 1)
        )
    forecasts = add_divine_columns(pl.concat(parts), features)
    return prices, forecasts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--currencies", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    prices, forecasts = simulated_inputs(args.currencies)
    league = prices["league"][0]
    print(
        f"{prices['currency'].n_unique()} currencies, {prices.height} price rows, {forecasts.height} forecast rows"
    )
    timings, cpu = [], []
    for _ in range(args.repeat):
        cpu_started = time.process_time()
        started = time.perf_counter()
        report = build_report(league, forecasts, prices, ReportSettings())
        built = time.perf_counter()
        latest = latest_forecasts(forecasts)
        top = report.ranking.head(report.settings.chart_currencies)["currency"].to_list()
        charts = {
            "fan": fan_chart_png(prices, latest, top, report.divine_price_chaos),
            "allocation": allocation_chart_png(
                report.allocation, report.cash_chaos, report.divine_price_chaos
            ),
        }
        page = report_html(report, charts)
        done = time.perf_counter()
        timings.append((built - started, done - built, done - started))
        cpu.append(time.process_time() - cpu_started)
    best = min(timings, key=lambda t: t[2])
    print(
        f"positions {report.allocation.height}, triggers {report.triggers.height}, html {len(page) / 1e6:.1f} MB"
    )
    print(
        f"build_report {best[0]:.2f}s + charts/html {best[1]:.2f}s = {best[2]:.2f}s best of {args.repeat} "
        f"(target < 10 s): {'met' if best[2] < 10 else 'MISSED'}; CPU time {min(cpu):.2f}s "
        f"(wall exceeds CPU when other jobs share the 2 cores)"
    )


if __name__ == "__main__":
    main()
