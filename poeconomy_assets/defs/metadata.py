"""How numbers go into asset metadata: rounded to what a reader can use, and null when there is none."""

import math

import dagster as dg


def currency_horizon(currency: str, horizon: str) -> dict[str, str]:
    """The two halves of a currency × horizon partition key, as metadata a reader can filter on."""
    return {"currency": currency, "horizon": horizon}


def metric(value: float | None, digits: int = 4) -> float | dg.MetadataValue:
    """``value`` rounded to ``digits`` decimals; null metadata for None or NaN (the UI shows it as empty)."""
    if value is None or math.isnan(value):
        return dg.MetadataValue.null()
    return round(float(value), digits)
