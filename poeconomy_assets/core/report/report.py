"""The investment report of one league: what each currency is expected to do, how sure that is, what to
buy with a budget (or why to hold chaos), and when to reconsider. Every price is in chaos and in divines
(the Divine Orb's own price on the report date).

Everything a row says is read from one forecast distribution per currency × horizon (see
``core.uncertainty.distribution``), with the horizons harmonized so a longer one is never surer:

Every return, probability and share is a **fraction** (0.0161 is 1.61%) in every export; the HTML page shows
them as percentages.

- ``return_{h}``: the median forecast return (of the ask); ``low80/high80`` and ``low95/high95``: its quantiles;
- ``p_gain_{h}``: P(selling at the exit day's bid beats buying at today's ask), from the same distribution;
- ``downside_{h}``: the return at the 80% band's lower end (one chance in ten of worse);
- at the ranking horizon: ``edge`` (the median's return net of the whole round trip: buy at the ask, sell at
  the bid, ticks; ``core.report.execution``), ``sigma`` (the
  log-return standard deviation the 80% band implies) and ``score`` = edge / sigma, so a positive score
  always comes with P(gain) above 50% and the ranking never disagrees with P(gain);
- volatility and liquidity (``core.report.data_quality``), diversification (1 − mean positive correlation of
  daily returns with the other candidates) and the allocation (``core.report.allocation``).
"""

import base64
from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from poeconomy_assets.core.prices import DIVINE
from poeconomy_assets.core.report.allocation import AllocationRules, allocate, hold_advice, hold_reason
from poeconomy_assets.core.report.data_quality import data_quality
from poeconomy_assets.core.report.execution import (
    ASSUMED_SPREAD,
    Quote,
    break_even_bid,
    execution_costs,
    net_return,
    round_trip_cost,
)
from poeconomy_assets.core.report.markdown import frame_to_markdown
from poeconomy_assets.core.report.triggers import rebalancing_triggers
from poeconomy_assets.core.schemas import HORIZON_DAYS, HORIZONS
from poeconomy_assets.core.uncertainty import (
    consistency_problems,
    harmonize_horizons,
    log_knots,
    prob_above,
    sigma_from_band,
)


@dataclass(frozen=True)
class ReportSettings:
    rules: AllocationRules = field(default_factory=AllocationRules)
    rank_horizon: str = "7d"
    correlation_days: int = 30
    chart_currencies: int = 6  # forecast fans drawn for this many top currencies
    fee: float = (
        ASSUMED_SPREAD  # the spread assumed where the prices carry no buy side (core.report.execution)
    )


@dataclass(frozen=True)
class Report:
    league: str
    as_of: str
    ranking: pl.DataFrame  # one row per currency (see build_report)
    triggers: pl.DataFrame  # currency, horizon, trigger, detail
    divine_price_chaos: float | None
    settings: ReportSettings
    cost_source: str = "conservative fallback spread and tick"  # or "bid/ask spread and tick" (both sides)

    @property
    def allocation(self) -> pl.DataFrame:
        rank = self.settings.rank_horizon
        return self.ranking.filter(pl.col("weight") > 0).select(
            "currency",
            "price_chaos",
            "entry_price",
            "price_divine",
            "weight",
            "allocation_chaos",
            "allocation_divine",
            "units",
            f"return_{rank}",
            f"p_gain_{rank}",
            f"low80_chaos_{rank}",
            f"high80_chaos_{rank}",
            "cost",
            "edge",
            "score",
            "diversification",
            "liquidity",
        )

    @property
    def budget_chaos(self) -> float:
        rules = self.settings.rules
        return rules.budget * ((self.divine_price_chaos or 0.0) if rules.budget_unit == "divine" else 1.0)

    @property
    def cash_chaos(self) -> float:
        cash = float(self.budget_chaos - self.ranking["allocation_chaos"].sum())
        return 0.0 if abs(cash) < 1e-9 * max(1.0, self.budget_chaos) else cash  # no "-0.0000000001 c" left

    @property
    def hold_advice(self) -> str:
        """ "chaos" or "divines": what to hold when nothing is bought (see ``allocation.hold_advice``)."""
        return hold_advice(self.ranking, self.settings.rank_horizon)

    @property
    def hold_reason(self) -> str | None:
        """Why the allocation is empty ("hold chaos: …"), None when something is bought."""
        return hold_reason(self.ranking, self.settings.rules, self.settings.rank_horizon)

    def summary_columns(self) -> list[str]:
        """The ranking's columns a summary shows (markdown here, the asset's inline table in the UI)."""
        rank = self.settings.rank_horizon
        return [
            "rank",
            "currency",
            "price_chaos",
            "price_divine",
            f"return_{rank}",
            f"p_gain_{rank}",
            f"low80_chaos_{rank}",
            f"high80_chaos_{rank}",
            f"skill_gate_{rank}",
            "score",
            "liquidity",
            "data_quality",
            "allocation_chaos",
            "allocation_divine",
        ]

    def markdown(self, max_rows: int = 30) -> str:
        columns = self.summary_columns()
        return frame_to_markdown(self.ranking.select(columns), max_rows=max_rows)

    @property
    def _horizons(self) -> list[str]:
        return [h for h in HORIZONS if f"return_{h}" in self.ranking.columns]


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
        prices.filter(
            pl.col("currency").is_in(currencies) & (pl.col("date") > pl.lit(last) - pl.duration(days=days))
        )
        .sort("date")
        .with_columns(pl.col("price_chaos").log().diff().over("currency").alias("r"))
        .pivot(on="currency", index="date", values="r")
    )
    matrix = (
        np.column_stack(
            [
                wide[c].fill_null(0.0).to_numpy() if c in wide.columns else np.zeros(wide.height)
                for c in currencies
            ]
        )
        if currencies
        else np.zeros((0, 0))
    )
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


def with_costs(forecasts: pl.DataFrame, costs: pl.DataFrame) -> pl.DataFrame:
    """Forecast rows (one distribution each) with the execution costs (``core.report.execution.execution_costs``:
    ``entry_price``, ``tradable``, ``tradable_note``, ``spread``, ``cost``, ``depth``) and, net of the whole
    round trip (buy at the ask ticked up, sell at the bid ``spread`` below the forecast ask, ticked down):
    ``edge`` (the median forecast's net return), ``p_gain`` (P(the sale beats the purchase), null where P(up)
    is), ``sigma`` and ``score`` = edge / sigma."""
    frame = forecasts.join(costs, on="currency", how="left").with_columns(
        pl.col("tradable").fill_null(False),
        pl.col("depth").fill_null(0.0),
        pl.col("tradable_note").fill_null("no quote in the prices"),
        pl.col("spread").fill_null(ASSUMED_SPREAD),
        pl.col("entry_price").fill_null(pl.col("price_chaos")),
    )
    if frame.is_empty():
        return frame.with_columns(
            p_gain=pl.lit(None, dtype=pl.Float64),
            edge=pl.lit(None, dtype=pl.Float64),
            sigma=pl.lit(None, dtype=pl.Float64),
            score=pl.lit(None, dtype=pl.Float64),
        )
    entry = frame["entry_price"].to_numpy().astype(float)
    spread = frame["spread"].to_numpy().astype(float)
    price = frame["price_chaos"].to_numpy().astype(float)
    edge = net_return(entry, frame["forecast_chaos"].to_numpy().astype(float), spread)
    cost = np.array([round_trip_cost(Quote(p, None), s) for p, s in zip(price, spread)])
    with np.errstate(divide="ignore", invalid="ignore"):
        threshold = np.log(
            break_even_bid(entry) / ((1 - spread) * price)
        )  # the forecast ask that breaks even
    p_gain = prob_above(log_knots(frame), threshold)
    sigma = sigma_from_band(frame["lower_80"].to_numpy(), frame["upper_80"].to_numpy())
    return frame.with_columns(
        pl.Series("cost", cost),
        pl.when(pl.col("prob_up").is_null()).then(None).otherwise(pl.Series(p_gain)).alias("p_gain"),
        pl.Series("edge", edge),
        pl.Series("sigma", sigma),
        pl.Series("score", np.divide(edge, sigma, out=np.full(edge.size, np.nan), where=sigma > 0)).fill_nan(
            None
        ),
    )


def decide(
    rank_rows: pl.DataFrame, prices: pl.DataFrame, settings: ReportSettings, divine: float | None
) -> pl.DataFrame:
    """What the report buys from one forecast per currency at the ranking horizon (rows from
    :func:`with_costs`) and the league's prices up to the forecast date: data quality, diversification and
    the allocation. The track record (``core.evaluation.strategy``) calls the same function day by day."""
    quality = data_quality(prices) if not prices.is_empty() else pl.DataFrame(schema={"currency": pl.Utf8})
    table = rank_rows.select(
        "currency",
        "price_chaos",
        "entry_price",
        "edge",
        "sigma",
        "score",
        "cost",
        "spread",
        "tradable",
        "tradable_note",
        "depth",
        pl.col("p_gain").alias("prob_gain"),
    ).join(quality, on="currency", how="left")
    for column, dtype in (("liquidity", pl.Float64), ("volatility", pl.Float64), ("data_quality", pl.Utf8)):
        if column not in table.columns:
            table = table.with_columns(pl.lit(None, dtype=dtype).alias(column))
    currencies = table["currency"].to_list()
    candidate = (table["edge"].fill_null(-1.0) > 0).to_numpy()
    corr = (
        return_correlation(prices, currencies, settings.correlation_days) if currencies else np.zeros((0, 0))
    )
    table = table.with_columns(
        pl.Series("diversification", diversification(corr, candidate), dtype=pl.Float64)
    )
    return allocate(table, settings.rules, divine)


def build_report(
    league: str, forecasts: pl.DataFrame, prices: pl.DataFrame, settings: ReportSettings = ReportSettings()
) -> Report:
    """The report of ``league`` from its forecasts (every as-of date) and its daily prices."""
    league_forecasts = forecasts.filter(pl.col("league") == league)
    if league_forecasts.is_empty():
        raise ValueError(f"no forecasts for league {league!r}")
    prices = prices.filter(pl.col("league") == league)
    stored = latest_forecasts(league_forecasts)
    latest = with_skill_gate(harmonize_horizons(stored, HORIZON_DAYS))
    # No report on forecasts that contradict themselves: as stored (harmonizing could hide it), nor as harmonized.
    if problems := consistency_problems(stored) or consistency_problems(latest, HORIZON_DAYS):
        raise ValueError(
            f"the latest forecasts of {league!r} contradict themselves, so no report is built: "
            + "; ".join(problems)
        )
    horizons = [h for h in HORIZONS if h in set(latest["horizon"].to_list())]
    rank = settings.rank_horizon if settings.rank_horizon in horizons else horizons[-1]
    divine = latest_divine_price(prices)
    costs = execution_costs(prices, assumed_spread=settings.fee)
    per_horizon = with_costs(latest, costs).with_columns(
        pl.col("expected_return").alias("return"),
        (pl.col("lower_80") / pl.col("price_chaos") - 1).alias("downside"),
        (pl.col("forecast_chaos") / divine if divine else pl.lit(None, dtype=pl.Float64)).alias(
            "forecast_divine_now"
        ),
        pl.col("lower_80").alias("low80_chaos"),
        pl.col("upper_80").alias("high80_chaos"),
        pl.col("lower_95").alias("low95_chaos"),
        pl.col("upper_95").alias("high95_chaos"),
    )
    wide = per_horizon.pivot(
        on="horizon",
        index="currency",
        values=[
            "return",
            "p_gain",
            "prob_up",
            "downside",
            "forecast_chaos",
            "forecast_divine_now",
            "low80_chaos",
            "high80_chaos",
            "low95_chaos",
            "high95_chaos",
            "prob_up_reason",
            "interval_method",
            "skill_gate",
            "skill_gate_reason",
        ],
        aggregate_function="first",
    )
    wide = wide.rename({c: _horizon_name(c) for c in wide.columns if c != "currency"})
    table = decide(per_horizon.filter(pl.col("horizon") == rank), prices, settings, divine)
    table = table.join(wide, on="currency", how="left").with_columns(
        (pl.col("price_chaos") / divine if divine else pl.lit(None, dtype=pl.Float64)).alias("price_divine")
    )
    triggers = rebalancing_triggers(league_forecasts)
    flags = triggers.group_by("currency").agg(
        pl.format("{} {}", "horizon", "trigger").str.join("; ").alias("rebalance")
    )
    table = (
        table.join(flags, on="currency", how="left")
        .sort(["weight", "score"], descending=True, nulls_last=True)
        .with_row_index("rank", offset=1)
    )
    table = table.rename({"reason": "allocation_note"})
    ordered = [
        "rank",
        "currency",
        "price_chaos",
        "price_divine",
        *[c for h in horizons for c in (f"return_{h}", f"p_gain_{h}", f"downside_{h}")],
        "entry_price",
        "spread",
        "cost",
        "edge",
        "sigma",
        "score",
        "volatility",
        "liquidity",
        "diversification",
        "weight",
        "allocation_chaos",
        "allocation_divine",
        "units",
        "allocation_note",
        "tradable",
        "depth",
        "rebalance",
        "data_quality",
        "data_quality_reason",
        "days_observed",
        "low_confidence_share",
        "volume",
        *[
            f"{m}_{h}"
            for h in horizons
            for m in (
                "forecast_chaos",
                "forecast_divine",
                "low80_chaos",
                "high80_chaos",
                "low95_chaos",
                "high95_chaos",
                "p_up",
                "interval_method",
                "p_gain_reason",
                "skill_gate",
                "skill_gate_reason",
            )
        ],
    ]
    missing = [c for c in ordered if c not in table.columns]
    if missing:
        raise ValueError(f"report columns missing: {missing}")
    cost_source = (
        "bid/ask spread and tick"
        if "buy_price_chaos" in prices.columns and prices["buy_price_chaos"].is_not_null().any()
        else "conservative fallback spread and tick"
    )
    return Report(
        league=league,
        as_of=str(latest["as_of"].max()),
        ranking=table.select(ordered),
        triggers=triggers,
        divine_price_chaos=divine,
        settings=replace(settings, rank_horizon=rank),
        cost_source=cost_source,
    )


def with_skill_gate(forecasts: pl.DataFrame) -> pl.DataFrame:
    """``forecasts`` with the skill gate's columns (``core.models.skill_gate``); forecasts stored before the gate
    existed were the model's move."""
    if "skill_gate" in forecasts.columns:
        return forecasts
    return forecasts.with_columns(
        skill_gate=pl.lit("model"), skill_gate_reason=pl.lit("forecast before the skill gate existed")
    )


def _horizon_name(column: str) -> str:
    """Pivoted ``return_7d`` / ``prob_up_reason_7d`` → the report's names (``return_7d``, ``p_gain_reason_7d``)."""
    renames = {
        "return": "return_{}",
        "p_gain": "p_gain_{}",
        "prob_up_reason": "p_gain_reason_{}",
        "prob_up": "p_up_{}",
        "downside": "downside_{}",
        "forecast_chaos": "forecast_chaos_{}",
        "forecast_divine_now": "forecast_divine_{}",
        "low80_chaos": "low80_chaos_{}",
        "high80_chaos": "high80_chaos_{}",
        "low95_chaos": "low95_chaos_{}",
        "high95_chaos": "high95_chaos_{}",
        "interval_method": "interval_method_{}",
        "skill_gate_reason": "skill_gate_reason_{}",
        "skill_gate": "skill_gate_{}",
    }
    for prefix, pattern in renames.items():
        if column.startswith(prefix + "_"):
            return pattern.format(column[len(prefix) + 1 :])
    return column


def png_markdown(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
