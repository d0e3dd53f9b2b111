"""One forecast distribution per currency × horizon × date, and everything a report reads from it.

A forecast is a distribution of the log return over the horizon, given by seven quantile *knots*:

    level     0.025     0.10      0.25      0.50     0.75      0.90      0.975
    column    lower_95  lower_80  lower_50  forecast upper_50  upper_80  upper_95

(prices in chaos; the knots are strictly increasing). Between knots the cumulative distribution is linear
in the log price; beyond the outer knots it continues with the slope of the outer segment and is clipped to
[P_FLOOR, 1 − P_FLOOR]. The point forecast is the median; P(up) (and P(gain) net of a trading cost) is
1 − CDF(log of the break-even price). So the numbers a report shows cannot contradict each other: the 80%
band lies inside the 95% band, a price below the 80% band means P(up) ≥ 90%, a median above the price
means P(up) > 50%, and so on. :func:`check_consistency` (:func:`consistency_problems`: its findings as text)
checks exactly that on any forecast table; ``price_forecasts``' check ``forecasts_are_consistent`` runs it on
every forecast the asset writes.

Across horizons (same currency and as-of date) the band half-widths are made non-decreasing by
:func:`harmonize_horizons`: a 7-day band never claims more certainty than the 1-day band of the same day.
"""

from dataclasses import dataclass

import numpy as np
import polars as pl

LEVELS = (0.025, 0.10, 0.25, 0.50, 0.75, 0.90, 0.975)
KNOTS = ("lower_95", "lower_80", "lower_50", "forecast_chaos", "upper_50", "upper_80", "upper_95")
P_FLOOR = 0.005  # P(up) is never reported as a certainty: clipped to [0.5%, 99.5%]
Z = {0.50: 0.6745, 0.80: 1.2816, 0.95: 1.9600}  # standard normal half-widths (the conservative band's shape)
TOLERANCE = 1e-9


def strictly_increasing(knots: np.ndarray) -> np.ndarray:
    """Knots (rows × 7, log space) made strictly increasing: ties (no residual spread) get a hair of width."""
    knots = np.maximum.accumulate(np.asarray(knots, dtype=float), axis=1)
    return knots + np.arange(knots.shape[1])[None, :] * 1e-9


def cdf_at(knots: np.ndarray, x: np.ndarray | float) -> np.ndarray:
    """P(log return <= x) per row of ``knots`` (rows × 7 log returns at LEVELS), piecewise linear."""
    knots = np.atleast_2d(np.asarray(knots, dtype=float))
    x = np.broadcast_to(np.asarray(x, dtype=float), (knots.shape[0],))
    levels = np.asarray(LEVELS)
    # segment index: 0 below the second knot, …, 5 at or above the sixth (outer segments extrapolate)
    segment = np.clip((knots[:, 1:-1] <= x[:, None]).sum(axis=1), 0, len(LEVELS) - 2)
    rows = np.arange(knots.shape[0])
    left, right = knots[rows, segment], knots[rows, segment + 1]
    width = np.where(right - left > 0, right - left, np.nan)
    value = levels[segment] + (x - left) / width * (levels[segment + 1] - levels[segment])
    value = np.where(np.isfinite(value), value, np.where(x >= right, 1.0, 0.0))
    return np.clip(value, P_FLOOR, 1 - P_FLOOR)


def prob_above(knots: np.ndarray, x: np.ndarray | float = 0.0) -> np.ndarray:
    """P(log return > x): P(up) at x = 0, P(gain net of a cost c) at x = −log(1 − c)."""
    return 1.0 - cdf_at(knots, x)


def knots_from_halfwidths(
    center: np.ndarray, half50: np.ndarray, half80: np.ndarray, half95: np.ndarray
) -> np.ndarray:
    """Symmetric knots (in log space) around ``center`` from the 50/80/95% half-widths."""
    center = np.asarray(center, dtype=float)
    halves = np.column_stack([half50, half80, half95]).astype(float)
    halves = np.maximum.accumulate(np.clip(halves, 0.0, None), axis=1)
    return strictly_increasing(
        np.column_stack(
            [
                center - halves[:, 2],
                center - halves[:, 1],
                center - halves[:, 0],
                center,
                center + halves[:, 0],
                center + halves[:, 1],
                center + halves[:, 2],
            ]
        )
    )


def log_knots(frame: pl.DataFrame, price: str = "price_chaos") -> np.ndarray:
    """The knots of a forecast table's rows as log returns from ``price`` (rows × 7)."""
    price_values = frame[price].to_numpy().astype(float)
    return np.column_stack([np.log(frame[c].to_numpy().astype(float) / price_values) for c in KNOTS])


def with_knots(frame: pl.DataFrame, knots: np.ndarray, price: str = "price_chaos") -> pl.DataFrame:
    """``frame`` with its knot columns set from log-return ``knots``, ``expected_return`` (the median return)
    and ``prob_up`` re-read from them (a null P(up) stays null: too few residuals to say)."""
    price_values = frame[price].to_numpy().astype(float)
    prob = prob_above(knots, 0.0) if knots.size else np.zeros(0)
    updates = [pl.Series(c, price_values * np.exp(knots[:, i])) for i, c in enumerate(KNOTS)]
    updates.append(pl.Series("expected_return", np.expm1(knots[:, 3])))
    if "prob_up" in frame.columns:
        updates.append(
            pl.when(pl.col("prob_up").is_null()).then(None).otherwise(pl.Series(prob)).alias("prob_up")
        )
    return frame.with_columns(updates)


def harmonize_horizons(forecasts: pl.DataFrame, horizon_days: dict[str, int]) -> pl.DataFrame:
    """Per currency and as-of date, widen each horizon's band to at least the (log) half-widths of every
    shorter horizon's band, around its own median, and re-read P(up). Never narrows a band."""
    if forecasts.is_empty() or forecasts["horizon"].n_unique() < 2:
        return forecasts
    ordered = (
        forecasts.with_row_index("_row")
        .with_columns(pl.col("horizon").replace_strict(horizon_days, return_dtype=pl.Int64).alias("_days"))
        .sort("currency", "as_of", "_days")
    )
    knots = log_knots(ordered)
    center = knots[:, 3:4]
    halves = np.abs(knots - center)  # per knot distance from the median
    groups = ordered.select(pl.struct("currency", "as_of").rank("dense").alias("g"))["g"].to_numpy()
    for group in np.unique(groups):
        index = np.flatnonzero(groups == group)
        halves[index] = np.maximum.accumulate(halves[index], axis=0)
    signs = np.sign(np.arange(len(LEVELS)) - 3)[None, :]
    widened = strictly_increasing(center + signs * halves)
    return with_knots(ordered, widened).sort("_row").drop("_row", "_days")


@dataclass(frozen=True)
class Consistency:
    """What :func:`check_consistency` found: how many forecasts it checked, how many contradict themselves
    (in at least one way), and one row per kind of contradiction found: ``problem``, ``forecasts`` (how many
    have it) and the first such forecast's currency, horizon, as-of date, price, quantiles and P(up)."""

    checked: int
    inconsistent: int
    problems: pl.DataFrame

    def messages(self) -> list[str]:
        """One sentence per kind of contradiction: "N forecast(s) <problem> (first: {currency, horizon, as_of})"."""
        keys = [c for c in ("currency", "horizon", "as_of") if c in self.problems.columns]
        messages = []
        for row in self.problems.iter_rows(named=True):
            where = {k: row[k] for k in keys}
            messages.append(f"{row['forecasts']} forecast(s) {row['problem']} (first: {where})")
        return messages


def check_consistency(
    forecasts: pl.DataFrame, horizon_days: dict[str, int] | None = None, tolerance: float = 1e-6
) -> Consistency:
    """Every way the rows of a forecast table contradict themselves: quantiles out of order, the median not
    the point forecast, P(up) on the wrong side of the bands, and, given ``horizon_days``, a longer horizon's
    band narrower than a shorter one's on the same day (see :class:`Consistency`)."""
    f = forecasts
    if f.is_empty():
        return Consistency(0, 0, pl.DataFrame(schema={"problem": pl.Utf8, "forecasts": pl.Int64}))
    named = [f[c].to_numpy().astype(float) for c in KNOTS]
    price = f["price_chaos"].to_numpy().astype(float)
    found: list[tuple[str, np.ndarray]] = []

    def report(mask: np.ndarray, what: str) -> None:
        if mask.any():
            found.append((what, mask))

    for i in range(len(KNOTS) - 1):
        report(~(named[i] <= named[i + 1] * (1 + tolerance)), f"with {KNOTS[i]} above {KNOTS[i + 1]}")
    width80, width95 = named[5] - named[1], named[6] - named[0]
    report(width80 > width95 * (1 + tolerance), "with an 80% band wider than the 95% band")
    if "expected_return" in f.columns:
        report(
            np.abs(price * (1 + f["expected_return"].to_numpy()) / named[3] - 1) > 1e-6,
            "whose expected return is not the median",
        )
    if "prob_up" in f.columns:
        p = f["prob_up"].cast(pl.Float64).fill_null(np.nan).to_numpy()
        known = np.isfinite(p)
        eps = 1e-6
        report(known & ((p < 0) | (p > 1)), "with P(up) outside [0, 1]")
        report(known & (price < named[0]) & (p < 0.975 - eps), "priced below the 95% band but P(up) < 97.5%")
        report(known & (price < named[1]) & (p < 0.90 - eps), "priced below the 80% band but P(up) < 90%")
        report(known & (price < named[3]) & (p < 0.5 - eps), "with a median above the price but P(up) < 50%")
        report(known & (price > named[3]) & (p > 0.5 + eps), "with a median below the price but P(up) > 50%")
        report(known & (price > named[5]) & (p > 0.10 + eps), "priced above the 80% band but P(up) > 10%")
        report(known & (price > named[6]) & (p > 0.025 + eps), "priced above the 95% band but P(up) > 2.5%")
        if "prob_up_reason" in f.columns:
            report(~known & f["prob_up_reason"].is_null().to_numpy(), "with no P(up) and no reason why")
    if horizon_days and "horizon" in f.columns and f["horizon"].n_unique() > 1:
        widths = f.with_row_index("_row").select(
            "_row",
            "currency",
            "as_of",
            (pl.col("upper_80") / pl.col("lower_80")).log().alias("w80"),
            (pl.col("upper_95") / pl.col("lower_95")).log().alias("w95"),
            pl.col("horizon").replace_strict(horizon_days, return_dtype=pl.Int64).alias("days"),
        )
        shrinking = (
            widths.sort("currency", "as_of", "days")
            .with_columns(pl.col("w80", "w95").cum_max().over("currency", "as_of").name.suffix("_max"))
            .filter((pl.col("w80") < pl.col("w80_max") - 1e-9) | (pl.col("w95") < pl.col("w95_max") - 1e-9))
        )
        mask = np.zeros(f.height, dtype=bool)
        mask[shrinking["_row"].to_numpy()] = True
        report(mask, "with a band narrower than a shorter horizon's on the same day")
    shown = [c for c in ("currency", "horizon", "as_of", "price_chaos", *KNOTS, "prob_up") if c in f.columns]
    problems = pl.DataFrame(schema={"problem": pl.Utf8, "forecasts": pl.Int64})
    if found:
        firsts = f[[int(np.flatnonzero(mask)[0]) for _, mask in found]].select(shown)
        problems = pl.DataFrame(
            {"problem": [what for what, _ in found], "forecasts": [int(mask.sum()) for _, mask in found]}
        ).hstack(firsts)
    inconsistent = int(np.logical_or.reduce([mask for _, mask in found]).sum()) if found else 0
    return Consistency(f.height, inconsistent, problems)


def consistency_problems(
    forecasts: pl.DataFrame, horizon_days: dict[str, int] | None = None, tolerance: float = 1e-6
) -> list[str]:
    """Every way the rows of a forecast table contradict themselves, one sentence each (an empty list when
    they do not): :func:`check_consistency`'s findings as text."""
    return check_consistency(forecasts, horizon_days, tolerance).messages()


def sigma_from_band(lower_80: np.ndarray, upper_80: np.ndarray) -> np.ndarray:
    """The log-return standard deviation a normal distribution with this 80% band would have."""
    return np.log(np.asarray(upper_80, dtype=float) / np.asarray(lower_80, dtype=float)) / (2 * Z[0.80])


def break_even(cost: np.ndarray | float) -> np.ndarray:
    """Log return that only pays back a round-trip cost ``cost`` (a fraction of the buy price)."""
    return -np.log1p(-np.clip(np.asarray(cost, dtype=float), 0.0, 0.99))


def normal_shape(half95: float) -> tuple[float, float, float]:
    """50/80/95% half-widths of a normal distribution whose 95% half-width is ``half95``."""
    return half95 * Z[0.50] / Z[0.95], half95 * Z[0.80] / Z[0.95], half95
