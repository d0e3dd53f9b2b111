"""Scorecard charts (PNG bytes): relative MAE per currency and horizon against persistence's 1.0, and coverage."""

import numpy as np

from poeconomy_assets.core.plotting import png_bytes, pyplot
from poeconomy_assets.core.schemas import HORIZONS

MAX_BARS = (
    30  # with ~230 currencies the chart shows the 15 worst and 15 best (mean relative MAE over horizons)
)


def shown_currencies(per_horizon: dict[str, dict], horizons: list[str], limit: int = MAX_BARS) -> list[str]:
    """Every currency when there are at most ``limit``; else the worst and best halves by mean relative MAE."""
    currencies = sorted({c for h in horizons for c in per_horizon[h]["per_currency"]})
    if len(currencies) <= limit:
        return currencies

    def mean_rel_mae(currency: str) -> float:
        values = [per_horizon[h]["per_currency"].get(currency, {}).get("rel_mae") for h in horizons]
        known = [v for v in values if v is not None and np.isfinite(v)]
        return float(np.mean(known)) if known else float("nan")

    ranked = sorted((c for c in currencies if np.isfinite(mean_rel_mae(c))), key=mean_rel_mae, reverse=True)
    return ranked[: limit // 2] + ranked[-(limit - limit // 2) :]


def scorecard_chart_png(per_horizon: dict[str, dict], title: str) -> bytes:
    """Left: relative MAE per currency (one bar per horizon) with the persistence line at 1.0 (at most MAX_BARS
    currencies: the worst and the best). Right: 80% and 95% coverage per horizon against their nominal levels.
    ``per_horizon`` is a backtest's ``horizons``."""
    plt = pyplot()
    horizons = [h for h in HORIZONS if h in per_horizon]
    total = len({c for h in horizons for c in per_horizon[h]["per_currency"]})
    currencies = shown_currencies(per_horizon, horizons)
    if len(currencies) < total:
        title = f"{title} ({len(currencies)} of {total} currencies: the worst and the best relative MAE)"
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(12, 0.32 * len(currencies) + 2.2), gridspec_kw={"width_ratios": [3, 1.4]}
    )
    height = 0.8 / max(1, len(horizons))
    colors = {"1d": "#2a9d8f", "3d": "#e9c46a", "7d": "#e76f51"}
    for i, h in enumerate(horizons):
        values = [per_horizon[h]["per_currency"].get(c, {}).get("rel_mae") or np.nan for c in currencies]
        left.barh(
            np.arange(len(currencies)) + i * height,
            values,
            height=height,
            label=f"{h} (mean {per_horizon[h]['rel_mae']:.3f})",
            color=colors.get(h),
        )
    left.axvline(1.0, color="black", ls="--", lw=1, label="persistence = 1.0")
    left.set_yticks(np.arange(len(currencies)) + height * (len(horizons) - 1) / 2, currencies, fontsize=8)
    left.invert_yaxis()
    left.set_xlabel("relative MAE (model MAE / persistence MAE; < 1 beats persistence)")
    left.legend(fontsize=8, loc="lower right")
    x = np.arange(len(horizons))
    for offset, level, color in ((-0.18, 80, "#264653"), (0.18, 95, "#8ab17d")):
        values = [100 * (per_horizon[h].get(f"coverage_{level}") or np.nan) for h in horizons]
        right.bar(x + offset, values, width=0.34, color=color, label=f"{level}% interval")
        right.axhline(level, color=color, ls=":", lw=1)
    right.set_xticks(x, horizons)
    right.set_ylim(50, 100)
    right.set_ylabel("actual prices inside the interval (%)")
    right.legend(fontsize=8, loc="lower right")
    right.set_title("coverage (dotted: nominal)", fontsize=10)
    fig.suptitle(title)
    fig.tight_layout()
    return png_bytes(fig)


def strategy_chart_png(strategy: dict, league: str) -> bytes:
    """The track record's value curve: following the report vs holding chaos (flat) and holding divines."""
    from datetime import date

    import matplotlib.dates as mdates

    plt = pyplot()
    curve = strategy["curve"]
    dates = [date.fromisoformat(c["date"]) for c in curve]
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    ax.plot(
        dates,
        [100 * (c["strategy"] - 1) for c in curve],
        color="#2a9d8f",
        lw=1.6,
        label=f"follow the report ({100 * strategy['return']:+.1f}%)",
    )
    basket = [c.get("basket") for c in curve]
    if basket and all(b is not None for b in basket):
        ax.plot(
            dates,
            [100 * (b - 1) for b in basket],
            color="#8d99ae",
            lw=1.2,
            label=f"equal-weight basket ({100 * strategy['basket_return']:+.1f}%)",
        )
    ax.axhline(0, color="#6c757d", lw=1, ls="--", label="hold chaos (0%)")
    divine = [c.get("hold_divine") for c in curve]
    known = [(day, d) for day, d in zip(dates, divine) if d is not None]
    if known and strategy.get("hold_divine_return") is not None:
        ax.plot(
            [k[0] for k in known],
            [100 * (k[1] - 1) for k in known],
            color="#e9c46a",
            lw=1.4,
            label=f"hold divines ({100 * strategy['hold_divine_return']:+.1f}%)",
        )
    locator = mdates.AutoDateLocator(minticks=3, maxticks=6)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_ylabel("return in chaos terms (%)")
    ax.set_title(
        f"{league} held out: following the report, {len(strategy['trades'])} trades at the ask/bid, "
        "marked to market daily",
        fontsize=10,
    )
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return png_bytes(fig)
