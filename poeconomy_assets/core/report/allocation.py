"""Split a budget over currencies: weights from a risk-adjusted score and diversification, a cap per
position, a minimum liquidity. What the cap cannot place stays in cash (never forced into a position)."""

from dataclasses import dataclass

import numpy as np
import polars as pl


@dataclass(frozen=True)
class AllocationRules:
    budget: float = 1000.0
    budget_unit: str = "chaos"  # "chaos" or "divine"
    max_position_share: float = 0.25  # no currency gets more than this share of the budget
    min_liquidity: float = 0.5  # 0..1, see core.data_quality.liquidity
    min_prob_gain: float = 0.5  # P(price rises) at the ranking horizon must exceed this
    max_positions: int = 10  # a trader can follow this many; the best-weighted candidates get them

    def __post_init__(self) -> None:
        if self.budget_unit not in ("chaos", "divine"):
            raise ValueError(f"budget_unit must be 'chaos' or 'divine', not {self.budget_unit!r}")
        if not 0 < self.max_position_share <= 1:
            raise ValueError(f"max_position_share must be in (0, 1], not {self.max_position_share}")
        if self.budget < 0:
            raise ValueError(f"budget must be >= 0, not {self.budget}")


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


def allocate(candidates: pl.DataFrame, rules: AllocationRules, divine_chaos: float | None) -> pl.DataFrame:
    """``candidates`` has currency, price_chaos, score, diversification, liquidity, expected_return,
    prob_gain. Adds eligible, reason, weight, allocation_chaos, allocation_divine, units."""
    if rules.budget_unit == "divine" and not divine_chaos:
        raise ValueError("budget given in divines but the Divine Orb's price is unknown for this league")
    budget_chaos = rules.budget * (divine_chaos if rules.budget_unit == "divine" else 1.0)
    reason = (
        pl.when(pl.col("expected_return").is_null() | (pl.col("expected_return") <= 0)).then(pl.lit("no expected gain"))
        .when(pl.col("prob_gain").is_null()).then(pl.lit("P(gain) unknown"))
        .when(pl.col("prob_gain") <= rules.min_prob_gain).then(pl.lit(f"P(gain) <= {rules.min_prob_gain:.0%}"))
        .when(pl.col("liquidity").is_null() | (pl.col("liquidity") < rules.min_liquidity))
        .then(pl.lit(f"liquidity < {rules.min_liquidity}"))
        .when(pl.col("score").is_null() | ~pl.col("score").is_finite() | (pl.col("score") <= 0))
        .then(pl.lit("no risk-adjusted score"))
    )
    frame = candidates.with_columns(reason.alias("reason")).with_columns(pl.col("reason").is_null().alias("eligible"))
    raw = np.where(frame["eligible"].to_numpy(),
                   (frame["score"].fill_null(0) * frame["diversification"].fill_null(0)).to_numpy(), 0.0)
    raw = np.clip(raw, 0.0, None)
    if (raw > 0).sum() > rules.max_positions:
        beyond = np.argsort(-raw, kind="stable")[rules.max_positions:]
        beyond = beyond[raw[beyond] > 0]
        raw[beyond] = 0.0
        frame = frame.with_columns(pl.when(pl.int_range(pl.len()).is_in(beyond.tolist()))
                                   .then(pl.lit(f"beyond the top {rules.max_positions}")).otherwise(pl.col("reason"))
                                   .alias("reason"))
    weights = capped_weights(raw, rules.max_position_share)
    chaos = weights * budget_chaos
    return frame.with_columns(
        pl.Series("weight", weights),
        pl.Series("allocation_chaos", chaos),
        pl.Series("allocation_divine", chaos / divine_chaos if divine_chaos else np.full(chaos.size, np.nan))
        .fill_nan(None),
        (pl.Series(chaos) / pl.col("price_chaos")).alias("units"),
    )
