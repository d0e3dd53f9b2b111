"""Split a budget over currencies, or say why not ("hold chaos").

Which currencies qualify, at the ranking horizon (see ``core.report.report``): an *edge* (the median
forecast return after the round-trip cost) of at least ``min_edge``, P(gain after the cost) above
``min_prob_gain``, liquidity of at least ``min_liquidity`` and data that is neither "insufficient" nor a
"suspect quote" (today's price far from its two-week median: a glitch is not a bargain). Among
those, the ``max_positions`` best risk-adjusted scores get a position.

How much each gets: **inverse volatility × diversification**. A position's weight is proportional to
diversification / σ, where σ is the forecast's own uncertainty (the log-return standard deviation its 80%
band implies) and diversification is 1 − its mean positive correlation with the other candidates: a calm,
uncorrelated currency gets more than a jumpy one that moves with the rest. No position gets more than
``max_position_share`` of the budget; what the cap cannot place stays in chaos. The edge decides *whether*
to buy, never *how much*: a noisy edge estimate scaled into position sizes (full Kelly) would bet most on
the forecasts most likely to be wrong.
"""

from dataclasses import dataclass

import numpy as np
import polars as pl

from poeconomy_assets.core.prices import DIVINE
from poeconomy_assets.core.report.execution import MAX_POSITION_CHAOS, MIN_POSITION_CHAOS, position_units


@dataclass(frozen=True)
class AllocationRules:
    budget: float = 1000.0
    budget_unit: str = "chaos"  # "chaos" or "divine"
    max_position_share: float = 0.25  # no currency gets more than this share of the budget
    min_liquidity: float = 0.5  # 0..1, see core.report.data_quality.liquidity
    min_prob_gain: float = 0.5  # P(gain after the round-trip cost) at the ranking horizon must exceed this
    min_edge: float = 0.01  # the median return after the cost must reach this, or the report says hold chaos
    max_positions: int = 10  # a trader can follow this many; the best scores get them
    max_position_chaos: float = MAX_POSITION_CHAOS  # per item at full depth (core.report.execution)
    min_position_chaos: float = MIN_POSITION_CHAOS  # a smaller position is not taken

    def __post_init__(self) -> None:
        if self.budget_unit not in ("chaos", "divine"):
            raise ValueError(f"budget_unit must be 'chaos' or 'divine', not {self.budget_unit!r}")
        if not 0 < self.max_position_share <= 1:
            raise ValueError(f"max_position_share must be in (0, 1], not {self.max_position_share}")
        if self.budget < 0:
            raise ValueError(f"budget must be >= 0, not {self.budget}")
        if self.min_edge < 0:
            raise ValueError(f"min_edge must be >= 0, not {self.min_edge}")


def capped_weights(raw: np.ndarray, cap: float) -> np.ndarray:
    """Weights proportional to ``raw`` (>= 0) summing to at most 1, none above ``cap``: capped positions
    are fixed and the excess is re-spread over the others until nothing exceeds the cap."""
    raw = np.clip(np.nan_to_num(np.asarray(raw, dtype=float)), 0.0, None)
    weights = np.zeros_like(raw)
    free = raw > 0
    remaining = 1.0
    while free.any() and remaining > 1e-12:
        share = remaining * raw[free] / raw[free].sum()
        over = share > cap - weights[free] + 1e-15
        if not over.any():
            weights[free] += share
            break
        index = np.flatnonzero(free)[over]
        remaining -= float(np.sum(cap - weights[index]))
        weights[index] = cap
        free[index] = False
    return weights


def _column(frame: pl.DataFrame, name: str, default: float) -> pl.Expr:
    return pl.col(name) if name in frame.columns else pl.lit(default)


def allocate(candidates: pl.DataFrame, rules: AllocationRules, divine_chaos: float | None) -> pl.DataFrame:
    """``candidates`` has currency, price_chaos, edge, prob_gain, sigma, score, diversification, liquidity
    (and optionally data_quality, and from ``core.report.execution``: entry_price, tradable, tradable_note,
    depth). Adds eligible, reason, weight, allocation_chaos, allocation_divine and units: whole units at the
    entry price, at most ``max_position_chaos`` × depth, at least ``min_position_chaos`` (else none, and the
    reason says so); what they cannot place stays in chaos."""
    if rules.budget_unit == "divine" and not divine_chaos:
        raise ValueError("budget given in divines but the Divine Orb's price is unknown for this league")
    budget_chaos = rules.budget * (divine_chaos if rules.budget_unit == "divine" else 1.0)
    quality = (
        _column(candidates, "data_quality", "ok") if "data_quality" in candidates.columns else pl.lit("ok")
    )
    tradable = _column(candidates, "tradable", True).fill_null(False)
    tradable_note = _column(candidates, "tradable_note", "").fill_null("")
    reason = (
        pl.when(pl.col("edge").is_null())
        .then(pl.lit("no forecast at the ranking horizon"))
        .when(pl.col("edge") < rules.min_edge)
        .then(
            pl.format(
                "median gain after costs {}% < {}%",
                (100 * pl.col("edge")).round(2),
                pl.lit(round(100 * rules.min_edge, 2)),
            )
        )
        .when(pl.col("prob_gain").is_null())
        .then(pl.lit("P(gain) unknown (too few residuals)"))
        .when(pl.col("prob_gain") <= rules.min_prob_gain)
        .then(pl.lit(f"P(gain) <= {rules.min_prob_gain:.0%}"))
        .when(~tradable)
        .then(pl.format("not tradable today: {}", tradable_note))
        .when(pl.col("liquidity").is_null() | (pl.col("liquidity") < rules.min_liquidity))
        .then(pl.lit(f"liquidity < {rules.min_liquidity}"))
        .when(quality.fill_null("insufficient") == "insufficient")
        .then(pl.lit("insufficient data"))
        .when(quality == "suspect quote")
        .then(pl.lit("suspect quote: today's price is far from its 14-day median"))
        .when(pl.col("sigma").is_null() | ~pl.col("sigma").is_finite() | (pl.col("sigma") <= 0))
        .then(pl.lit("no volatility estimate"))
    )
    frame = candidates.with_columns(reason.alias("reason")).with_columns(
        pl.col("reason").is_null().alias("eligible")
    )
    eligible = frame["eligible"].to_numpy()
    score = frame["score"].fill_null(-np.inf).to_numpy().astype(float)
    if eligible.sum() > rules.max_positions:
        order = np.argsort(-np.where(eligible, score, -np.inf), kind="stable")
        beyond = order[rules.max_positions : eligible.sum()]
        eligible = eligible.copy()
        eligible[beyond] = False
        frame = frame.with_columns(
            pl.when(pl.int_range(pl.len()).is_in(beyond.tolist()))
            .then(pl.lit(f"beyond the top {rules.max_positions} scores"))
            .otherwise(pl.col("reason"))
            .alias("reason")
        )
    sigma = frame["sigma"].fill_null(np.nan).to_numpy().astype(float)
    diversification = frame["diversification"].fill_null(0.0).to_numpy().astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.where(eligible, np.clip(diversification, 0.05, 1.0) / sigma, 0.0)
    planned = capped_weights(np.nan_to_num(raw, nan=0.0, posinf=0.0), rules.max_position_share) * budget_chaos
    entry = (
        (frame["entry_price"] if "entry_price" in frame.columns else frame["price_chaos"])
        .fill_null(frame["price_chaos"])
        .to_numpy()
        .astype(float)
    )
    depth = frame["depth"].fill_null(0.0).to_numpy() if "depth" in frame.columns else np.ones(frame.height)
    units = position_units(planned, entry, depth, rules.max_position_chaos, rules.min_position_chaos)
    chaos = units * entry
    too_small = (planned > 0) & (units == 0)
    weights = chaos / budget_chaos if budget_chaos > 0 else np.zeros(frame.height)
    return frame.with_columns(
        pl.when(pl.Series(too_small))
        .then(
            pl.lit(
                f"position below the minimum ({rules.min_position_chaos:g} c, whole units within the depth cap)"
            )
        )
        .otherwise(pl.col("reason"))
        .alias("reason"),
        pl.Series("weight", weights),
        pl.Series("allocation_chaos", chaos),
        pl.Series(
            "allocation_divine", chaos / divine_chaos if divine_chaos else np.full(chaos.size, np.nan)
        ).fill_nan(None),
        pl.Series("units", units),
    )


def hold_advice(table: pl.DataFrame, horizon: str) -> str:
    """What to hold when nothing is bought: "divines" when the Divine Orb's median forecast at ``horizon``
    rises in chaos terms (keeping divines one holds costs nothing), else "chaos"."""
    divine = table.filter(pl.col("currency") == DIVINE)
    column = f"return_{horizon}"
    if divine.is_empty() or column not in table.columns or divine[column][0] is None:
        return "chaos"
    return "divines" if divine[column][0] > 0 else "chaos"


def hold_reason(table: pl.DataFrame, rules: AllocationRules, horizon: str) -> str | None:
    """Why nothing is bought (None when something is), what to hold instead and why, in the numbers of the
    report's own table (``table``: the report's ranking, with ``return_{h}``, ``p_gain_{h}``, ``edge``, ``cost``
    and ``allocation_note``)."""
    if table.height and table["allocation_chaos"].sum() > 0:
        return None
    if table.is_empty():
        return "hold chaos: no currency has a forecast yet."
    p_gain = f"p_gain_{horizon}"
    best = table.sort("edge", descending=True, nulls_last=True).row(0, named=True)
    edge = best.get("edge")
    best_text = (
        f"the best, {best['currency']}, has a median gain after the round trip of {100 * edge:+.2f}% "
        f"and P(gain) {_pct(best.get(p_gain))} ({best.get('allocation_note') or 'eligible'})"
        if edge is not None
        else "no forecast qualifies"
    )
    advice = hold_advice(table, horizon)
    divine = table.filter(pl.col("currency") == DIVINE)
    if divine.is_empty() or divine[f"return_{horizon}"][0] is None:
        why = "there is no Divine Orb forecast, and chaos cannot lose value against itself"
    else:
        row = divine.row(0, named=True)
        change = f"{100 * row[f'return_{horizon}']:+.2f}%"
        why = f"the Divine Orb's median forecast is {change} over {horizon} in chaos terms" + (
            f", but buying more would cost {100 * row['cost']:.1f}% round trip: keep the divines you hold, "
            "buy none"
            if advice == "divines" and row.get("cost") is not None
            else ", so divines are not expected to gain on chaos"
        )
    return (
        f"hold {advice}: nothing clears the costs (a median gain after the whole round trip, buy at the ask "
        f"and sell at the bid, of at least {100 * rules.min_edge:.1f}% over {horizon}, P(gain) above "
        f"{rules.min_prob_gain:.0%}, a tradable quote, liquidity at least {rules.min_liquidity}); "
        f"{best_text}. Why {advice}: {why}."
    )


def _pct(value: float | None) -> str:
    return "unknown" if value is None else f"{100 * value:.0f}%"
