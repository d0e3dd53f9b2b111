"""The skill gate: a model's move is kept only where walk-forward validation shows skill beyond noise.

On this market 36–45% of 1-day price changes are exactly zero: a forecast that moves off the last price loses
on each of those days, and many items' models lose to "no change" (persistence) on the league after their
validation. So each item × horizon model has to *earn* its move: on its own walk-forward validation days
(earlier leagues only, never the league it will forecast) the model's absolute price error must be lower than
persistence's, by more than noise. Otherwise the item is forecast as "no change", and the report says so.

The test is Diebold–Mariano's on the loss differential d_t = |actual − model| − |actual − persistence|, each
league's days divided by that league's persistence MAE (so each league's d averages to its relative MAE − 1,
the score the backtest reports, and no league weighs more for being expensive). Its variance is Newey–West's
with the horizon's overlap in the lag (h-day outcomes of consecutive days share h − 1 days), with Harvey,
Leybourne and Newbold's small-sample correction and a Student t reference (one-sided: "the model is better").
Which level? Too strict a gate throws away real but modest skill (every gated item scores exactly 1.0); too loose
one keeps moves that lose. :func:`choose_gate_alpha` picks it per horizon from :data:`GATE_ALPHAS` on the
validation leagues alone: each item's blend is fitted and its gate decided on the earlier validation leagues,
then scored on the last one (the model's relative MAE where the gate opens, 1.0 where it stays closed); the level
with the lowest mean over items wins. The held-out league is never read: it is not among the validation leagues.
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import polars as pl

__all__ = [
    "GATE_ALPHA",
    "GATE_ALPHAS",
    "GATE_MIN_DAYS",
    "GateChoice",
    "SkillGate",
    "choose_gate_alpha",
    "skill_gate",
]

GATE_ALPHA = 0.10  # the level when it cannot be chosen (a single validation league): a conventional one
# The levels validation chooses from; 1.0 is "no gate" beyond the minimum of days (any p-value passes).
GATE_ALPHAS = (0.05, 0.10, 0.20, 0.35, 0.50, 1.0)
GATE_MIN_DAYS = 30  # fewer validation days with a known outcome: too little evidence, forecast no change


@dataclass(frozen=True)
class SkillGate:
    """The gate's decision for one item × horizon, and its evidence (what model metadata and reports show)."""

    use_model: bool
    reason: str
    n: int = 0  # validation days the test read
    p_value: float | None = None  # one-sided: small means the model beats persistence
    rel_mae: float | None = None  # the model's relative MAE on those days (mean over their leagues)

    def opens_at(self, alpha: float) -> bool:
        """Whether this evidence opens the gate at level ``alpha`` (never with too few days to test)."""
        return self.p_value is not None and self.p_value < alpha

    @property
    def label(self) -> str:
        return "model" if self.use_model else "no change"

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, stored: dict | None) -> "SkillGate":
        """A stored gate; a model saved before the gate existed keeps its move (as it was trained)."""
        if not stored:
            return cls(True, "trained before the skill gate: the model's forecast, untested")
        return cls(**{k: stored.get(k) for k in ("use_model", "reason", "n", "p_value", "rel_mae")})


def skill_gate(
    price: np.ndarray,
    actual: np.ndarray,
    forecast: np.ndarray,
    leagues: np.ndarray,
    horizon_days: int,
    alpha: float = GATE_ALPHA,
    min_days: int = GATE_MIN_DAYS,
) -> SkillGate:
    """Whether the model's ``forecast`` beat persistence (``price``) on these validation days by more than noise.

    Rows are one item's walk-forward validation days, in date order within each league (``leagues``)."""
    price, actual, forecast = (np.asarray(a, dtype=float) for a in (price, actual, forecast))
    leagues = np.asarray(leagues)
    known = np.isfinite(price) & np.isfinite(actual) & np.isfinite(forecast)
    n = int(known.sum())
    if n < min_days:
        return SkillGate(
            False, f"only {n} validation days (< {min_days}): no change until it earns the move", n
        )
    price, actual, forecast, leagues = price[known], actual[known], forecast[known], leagues[known]
    model_error, persistence_error = np.abs(actual - forecast), np.abs(actual - price)
    differential = np.empty(n)
    ratios = []
    for league in dict.fromkeys(leagues.tolist()):  # first-seen order
        mask = leagues == league
        scale = persistence_error[mask].mean()
        if scale <= 0:  # the price never moved over a horizon: any move off it is pure loss
            scale = max(model_error[mask].mean(), 1e-12)
        differential[mask] = (model_error[mask] - persistence_error[mask]) / scale
        ratios.append(model_error[mask].mean() / scale)
    rel_mae = float(np.mean(ratios))
    mean = float(differential.mean())
    lag = max(horizon_days, 1)
    variance = _newey_west_variance(differential, lag) / n
    if variance <= 0:
        use = mean < 0
        p_value = 0.0 if use else 1.0
    else:
        statistic = mean / np.sqrt(variance)
        h = horizon_days
        correction = np.sqrt(max((n + 1 - 2 * h + h * (h - 1) / n) / n, 1e-12))
        from scipy import stats  # on first use: importing the definitions loads no model library

        p_value = float(stats.t.cdf(statistic * correction, df=n - 1))
        use = p_value < alpha
    if use:
        reason = f"beat no change on {n} validation days (relative MAE {rel_mae:.3f}, p = {p_value:.3f})"
    else:
        reason = (
            f"no proven skill on {n} validation days (relative MAE {rel_mae:.3f}, p = {p_value:.3f} "
            f">= {alpha}): no change"
        )
    return SkillGate(bool(use), reason, n, p_value, rel_mae)


def _newey_west_variance(values: np.ndarray, lag: int) -> float:
    """Long-run variance of ``values`` (Bartlett weights up to ``lag``)."""
    centred = values - values.mean()
    n = centred.size
    variance = float(centred @ centred) / n
    for k in range(1, min(lag, n - 1) + 1):
        variance += 2 * (1 - k / (lag + 1)) * float(centred[k:] @ centred[:-k]) / n
    return variance


@dataclass(frozen=True)
class GateChoice:
    """The gate's level for one horizon, how it was chosen, and each candidate level's nested validation score
    (mean relative MAE over items on the last validation league)."""

    alpha: float
    reason: str
    scores: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, stored: dict | None) -> "GateChoice":
        if not stored:
            return cls(GATE_ALPHA, "stored before the level was chosen: the default level")
        return cls(float(stored["alpha"]), str(stored["reason"]), dict(stored.get("scores") or {}))


def choose_gate_alpha(
    oof: pl.DataFrame,
    target: str,
    horizon_days: int,
    alphas: tuple[float, ...],
    min_days: int,
    fit_blend: Callable[[pl.DataFrame], tuple[dict, dict, np.ndarray]],
    apply_blend: Callable[[pl.DataFrame, dict, dict], np.ndarray],
) -> GateChoice:
    """The level of :func:`skill_gate` that would have served the last validation league best.

    ``oof`` holds every item's out-of-fold predictions on the validation leagues (columns league, currency, date,
    league_day, price_chaos, ``target``, pred_<family>). ``fit_blend(rows)`` returns (weights, return scales, the
    blended log returns of ``rows``); ``apply_blend(rows, weights, scales)`` applies them to other rows."""
    if len(alphas) == 1:
        return GateChoice(float(alphas[0]), "fixed by the training profile")
    leagues = oof.sort("date")["league"].unique(maintain_order=True).to_list()
    if len(leagues) < 2:
        return GateChoice(
            GATE_ALPHA, f"one validation league: nothing to choose on, the default {GATE_ALPHA}"
        )
    last = leagues[-1]
    earlier, later = oof.filter(pl.col("league") != last), oof.filter(pl.col("league") == last)
    later_by_item = later.partition_by("currency", as_dict=True)
    scores: dict[float, list[float]] = {a: [] for a in alphas}
    for (currency,), rows in earlier.sort("date").partition_by("currency", as_dict=True).items():
        ahead = later_by_item.get((currency,))
        if ahead is None or ahead.is_empty():
            continue
        price = ahead["price_chaos"].to_numpy()
        future = price * np.exp(ahead[target].to_numpy())
        persistence_error = np.abs(future - price).sum()
        if persistence_error <= 0:
            continue
        weights, scale, blended = fit_blend(rows)
        model_ratio = (
            np.abs(future - price * np.exp(apply_blend(ahead, weights, scale))).sum() / persistence_error
        )
        before = rows["price_chaos"].to_numpy()
        actual = before * np.exp(rows[target].to_numpy())
        # One test per item; each level only moves the threshold on its p-value.
        evidence = skill_gate(
            before, actual, before * np.exp(blended), rows["league"].to_numpy(), horizon_days, 1.0, min_days
        )
        for alpha in alphas:
            scores[alpha].append(float(model_ratio) if evidence.opens_at(alpha) else 1.0)
    if not scores[alphas[0]]:
        return GateChoice(GATE_ALPHA, f"no item on both sides of {last}: the default {GATE_ALPHA}")
    means = {alpha: float(np.mean(values)) for alpha, values in scores.items()}
    best = min(alphas, key=lambda a: (round(means[a], 9), a))  # a tie goes to the stricter level
    return GateChoice(
        best,
        f"gates decided on {', '.join(leagues[:-1])} and scored on {last} ({len(scores[best])} items): "
        f"mean relative MAE {means[best]:.4f} at {best}",
        {str(a): round(m, 6) for a, m in means.items()},
    )
