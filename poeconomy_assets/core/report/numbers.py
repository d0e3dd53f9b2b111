"""Numbers rounded to what matters: prices to four significant digits (never scientific notation, a Mirror
of Kalandra is 13,340 chaos), percentages to two decimals, probabilities to whole percents; exports keep
numbers as numbers, rounded to six significant digits."""

import math


def price_text(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) < 1e-12:
        return "0"
    decimals = max(0, 3 - math.floor(math.log10(abs(value))))
    return f"{value:,.{decimals}f}"


def pct_text(fraction: float | None, signed: bool = True) -> str:
    if fraction is None or not math.isfinite(fraction):
        return "–"
    return f"{100 * fraction:+.2f}%" if signed else f"{100 * fraction:.2f}%"


def prob_text(probability: float | None) -> str:
    if probability is None or not math.isfinite(probability):
        return "unknown"
    return f"{100 * probability:.0f}%"


def round_sig(value: object, digits: int = 6) -> object:
    """Floats rounded to ``digits`` significant digits (NaN/inf become None); anything else unchanged."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value == 0:
            return 0.0
        return round(value, digits - 1 - math.floor(math.log10(abs(value))))
    return value
