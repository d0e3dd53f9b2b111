"""Scorecard charts (PNG bytes): relative MAE per currency and horizon against persistence's 1.0, and coverage."""

import io

import numpy as np

from poeconomy_assets.core.schemas import HORIZONS


def scorecard_chart_png(per_horizon: dict[str, dict], title: str) -> bytes:
    """Left: relative MAE per currency (one bar per horizon) with the persistence line at 1.0. Right: 80% and 95%
    coverage per horizon against their nominal levels. ``per_horizon`` is a backtest's ``horizons``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    horizons = [h for h in HORIZONS if h in per_horizon]
    currencies = sorted({c for h in horizons for c in per_horizon[h]["per_currency"]})
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 0.32 * len(currencies) + 2.2),
                                      gridspec_kw={"width_ratios": [3, 1.4]})
    height = 0.8 / max(1, len(horizons))
    colors = {"1d": "#2a9d8f", "3d": "#e9c46a", "7d": "#e76f51"}
    for i, h in enumerate(horizons):
        values = [per_horizon[h]["per_currency"].get(c, {}).get("mase") or np.nan for c in currencies]
        left.barh(np.arange(len(currencies)) + i * height, values, height=height, label=f"{h} (mean "
                  f"{per_horizon[h]['mase']:.3f})", color=colors.get(h))
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
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return buffer.getvalue()
