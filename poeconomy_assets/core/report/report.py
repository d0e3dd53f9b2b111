"""The investment report of one league: what each currency is expected to do, how sure that is, what to
buy with a budget, and when to reconsider. Every price is in chaos and in divines (the Divine Orb's
own price on the report date).

Per currency and horizon: expected return, P(gain) from the calibrated forecast distribution, the
downside at the 80% lower bound; per currency: volatility and liquidity (see ``core.data_quality``),
a risk-adjusted score at the ranking horizon (expected return per unit of the 80% half-width) and a
diversification factor (1 − mean positive correlation of daily returns with the other candidates).
The allocation (``core.allocation``) weights score × diversification under a cap per position.
"""

import base64
import html
from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from poeconomy_assets.core.prices import DIVINE
from poeconomy_assets.core.report.allocation import AllocationRules, allocate
from poeconomy_assets.core.report.data_quality import data_quality
from poeconomy_assets.core.report.markdown import frame_to_markdown
from poeconomy_assets.core.report.triggers import rebalancing_triggers
from poeconomy_assets.core.schemas import HORIZONS


@dataclass(frozen=True)
class ReportSettings:
    rules: AllocationRules = field(default_factory=AllocationRules)
    rank_horizon: str = "7d"
    correlation_days: int = 30
    chart_currencies: int = 6  # forecast fans drawn for this many top currencies


@dataclass(frozen=True)
class Report:
    league: str
    as_of: str
    ranking: pl.DataFrame  # one row per currency (see build_report)
    triggers: pl.DataFrame  # currency, horizon, trigger, detail
    divine_price_chaos: float | None
    settings: ReportSettings

    @property
    def allocation(self) -> pl.DataFrame:
        return self.ranking.filter(pl.col("weight") > 0).select(
            "currency", "price_chaos", "price_divine", "weight", "allocation_chaos", "allocation_divine", "units",
            f"return_{self.settings.rank_horizon}_pct", f"p_gain_{self.settings.rank_horizon}", "score",
            "diversification", "liquidity")

    @property
    def cash_chaos(self) -> float:
        rules = self.settings.rules
        budget = rules.budget * ((self.divine_price_chaos or 0.0) if rules.budget_unit == "divine" else 1.0)
        return float(budget - self.ranking["allocation_chaos"].sum())

    def markdown(self, max_rows: int = 30) -> str:
        columns = ["rank", "currency", "price_chaos", "price_divine", *[f"return_{h}_pct" for h in self._horizons],
                   *[f"p_gain_{h}" for h in self._horizons], "score", "liquidity", "data_quality", "allocation_chaos"]
        return frame_to_markdown(self.ranking.select(columns), max_rows=max_rows)

    @property
    def _horizons(self) -> list[str]:
        return [h for h in HORIZONS if f"return_{h}_pct" in self.ranking.columns]


def latest_divine_price(prices: pl.DataFrame) -> float | None:
    divine = prices.filter(pl.col("currency") == DIVINE).sort("date")
    return None if divine.is_empty() else float(divine["price_chaos"][-1])


def latest_forecasts(forecasts: pl.DataFrame) -> pl.DataFrame:
    """Each currency × horizon's forecast from its most recent as-of date."""
    return forecasts.sort("as_of").group_by("currency", "horizon", maintain_order=True).last()


def return_correlation(prices: pl.DataFrame, currencies: list[str], days: int) -> np.ndarray:
    """Correlation of daily log returns over the last ``days`` days (a missing day counts as no move)."""
    last = prices["date"].max()
    wide = (
        prices.filter(pl.col("currency").is_in(currencies) & (pl.col("date") > pl.lit(last) - pl.duration(days=days)))
        .sort("date")
        .with_columns(pl.col("price_chaos").log().diff().over("currency").alias("r"))
        .pivot(on="currency", index="date", values="r")
    )
    matrix = np.column_stack([wide[c].fill_null(0.0).to_numpy() if c in wide.columns else np.zeros(wide.height)
                              for c in currencies]) if currencies else np.zeros((0, 0))
    if matrix.shape[0] < 3 or matrix.shape[1] < 2:
        return np.eye(len(currencies))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(matrix, rowvar=False)
    corr = np.nan_to_num(corr, nan=0.0)
    np.fill_diagonal(corr, 1.0)
    return corr


def diversification(corr: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """1 − the mean positive correlation with the *other* candidates (1 when alone)."""
    positive = np.clip(corr, 0.0, None) * candidate[None, :]
    np.fill_diagonal(positive, 0.0)
    others = candidate.sum() - candidate.astype(float)
    return 1.0 - np.divide(positive.sum(axis=1), others, out=np.zeros(corr.shape[0]), where=others > 0)


def build_report(league: str, forecasts: pl.DataFrame, prices: pl.DataFrame,
                 settings: ReportSettings = ReportSettings()) -> Report:
    """The report of ``league`` from its forecasts (every as-of date) and its daily prices."""
    league_forecasts = forecasts.filter(pl.col("league") == league)
    if league_forecasts.is_empty():
        raise ValueError(f"no forecasts for league {league!r}")
    prices = prices.filter(pl.col("league") == league)
    latest = latest_forecasts(league_forecasts)
    horizons = [h for h in HORIZONS if h in set(latest["horizon"].to_list())]
    rank = settings.rank_horizon if settings.rank_horizon in horizons else horizons[-1]
    divine = latest_divine_price(prices)
    per_horizon = latest.with_columns(
        (100 * pl.col("expected_return")).round(3).alias("return_pct"),
        pl.col("prob_up").alias("p_gain"),
        (100 * (pl.col("lower_80") / pl.col("price_chaos") - 1)).round(3).alias("downside_pct"),
        (pl.col("forecast_chaos") / divine if divine else pl.lit(None, dtype=pl.Float64)).alias("forecast_divine_now"),
        pl.format("{}–{}", pl.col("lower_80").round_sig_figs(4), pl.col("upper_80").round_sig_figs(4)).alias("range80"),
        (pl.col("expected_return") / ((pl.col("upper_80") - pl.col("lower_80")) / (2 * pl.col("price_chaos"))))
        .alias("score"),
    )
    wide = per_horizon.pivot(on="horizon", index="currency",
                             values=["return_pct", "p_gain", "downside_pct", "forecast_chaos", "forecast_divine_now",
                                     "range80", "prob_up_reason", "interval_method"], aggregate_function="first")
    wide = wide.rename({c: _horizon_name(c) for c in wide.columns if c != "currency"})
    base = per_horizon.filter(pl.col("horizon") == rank).select(
        "currency", "price_chaos", pl.col("score"), pl.col("expected_return"), pl.col("prob_up").alias("prob_gain"))
    quality = data_quality(prices)
    table = base.join(wide, on="currency", how="left").join(quality, on="currency", how="left").with_columns(
        (pl.col("price_chaos") / divine if divine else pl.lit(None, dtype=pl.Float64)).alias("price_divine"))
    currencies = table["currency"].to_list()
    candidate = (table["expected_return"].fill_null(0) > 0).to_numpy()
    corr = return_correlation(prices, currencies, settings.correlation_days)
    table = table.with_columns(pl.Series("diversification", diversification(corr, candidate)))
    table = allocate(table, settings.rules, divine)
    triggers = rebalancing_triggers(league_forecasts)
    flags = triggers.group_by("currency").agg(pl.format("{} {}", "horizon", "trigger").str.join("; ").alias("rebalance"))
    table = table.join(flags, on="currency", how="left").sort(
        ["weight", "score"], descending=True, nulls_last=True).with_row_index("rank", offset=1)
    ordered = ["rank", "currency", "price_chaos", "price_divine",
               *[c for h in horizons for c in (f"return_{h}_pct", f"p_gain_{h}", f"downside_{h}_pct")],
               "score", "volatility", "liquidity", "diversification", "weight", "allocation_chaos",
               "allocation_divine", "units", "allocation_note", "rebalance", "data_quality", "data_quality_reason",
               "days_observed", "low_confidence_share", "volume",
               *[f"{m}_{h}" for h in horizons for m in ("forecast_chaos", "forecast_divine", "range80_chaos",
                                                        "interval_method", "p_gain_reason")]]
    missing = [c for c in ordered if c not in table.columns and c != "allocation_note"]
    if missing:
        raise ValueError(f"report columns missing: {missing}")
    table = table.rename({"reason": "allocation_note"})
    ranking = table.select([c for c in ordered if c in table.columns])
    return Report(league=league, as_of=str(latest["as_of"].max()), ranking=ranking, triggers=triggers,
                  divine_price_chaos=divine, settings=replace(settings, rank_horizon=rank))


def _horizon_name(column: str) -> str:
    """Pivoted ``return_pct_7d`` → ``return_7d_pct`` style names used in the report."""
    renames = {"return_pct": "return_{}_pct", "p_gain": "p_gain_{}", "downside_pct": "downside_{}_pct",
               "forecast_chaos": "forecast_chaos_{}", "forecast_divine_now": "forecast_divine_{}",
               "range80": "range80_chaos_{}", "prob_up_reason": "p_gain_reason_{}", "interval_method": "interval_method_{}"}
    for prefix, pattern in renames.items():
        if column.startswith(prefix + "_"):
            return pattern.format(column[len(prefix) + 1:])
    return column


def png_markdown(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"


def _table_html(frame: pl.DataFrame) -> str:
    header = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('' if v is None else (f'{v:.4g}' if isinstance(v, float) else str(v)))}</td>"
                         for v in row) + "</tr>"
        for row in frame.iter_rows()
    )
    return f"<table><tr>{header}</tr>{body}</table>"


def report_html(report: Report, charts: dict[str, bytes]) -> str:
    """A standalone HTML page (no external assets): summary, charts, allocation, triggers, ranking."""
    rules = report.settings.rules
    divine = f"{report.divine_price_chaos:.4g} chaos" if report.divine_price_chaos else "unknown"
    images = "".join(f'<h2>{html.escape(title)}</h2><img alt="{html.escape(title)}" '
                     f'src="data:image/png;base64,{base64.b64encode(png).decode()}">' for title, png in charts.items())
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(report.league)} report</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;font-size:90%}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}td:nth-child(2){{text-align:left}}img{{max-width:100%}}</style>
</head><body><h1>{html.escape(report.league)}: investment report</h1>
<p>As of {html.escape(report.as_of)}. One Divine Orb = {divine}. Budget {rules.budget:g} {rules.budget_unit}
(at most {rules.max_position_share:.0%} per currency, minimum liquidity {rules.min_liquidity}); cash left:
{report.cash_chaos:.4g} chaos. Returns are forecasts, not promises: the 80% range is where the price should
land four times out of five, calibrated on walk-forward residuals.</p>
{images}
<h2>Allocation</h2>{_table_html(report.allocation)}
<h2>Rebalancing triggers</h2>{_table_html(report.triggers) if report.triggers.height else "<p>none</p>"}
<h2>All currencies</h2>{_table_html(report.ranking)}</body></html>"""
