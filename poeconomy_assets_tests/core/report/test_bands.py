"""Forecast bands a trader can read (issue 20): the fan widens from today, heavy tails are explained."""

import numpy as np

from poeconomy_assets.core.report.charts import fan_path
from poeconomy_assets.core.report.html import heavy_tail_note, tail_ratio


def test_the_fan_widens_from_zero_instead_of_a_box_from_day_one() -> None:
    hours, bands = fan_path(
        100.0,
        np.array([1, 3, 7]),
        {"lower_95": np.array([62.0, 60.0, 55.0]), "upper_95": np.array([157.0, 160.0, 170.0])},
    )
    width = np.log(bands["upper_95"] / bands["lower_95"])
    assert width[0] == 0 and (np.diff(width) >= -1e-12).all(), "never narrower further out"
    first_day = hours <= 24
    assert width[first_day][1] < 0.5 * width[first_day][-1], "a fraction of a day is not the whole day's band"
    assert bands["upper_95"][hours == 24 * 7][0] == 170.0 and bands["upper_95"][hours == 24][0] == 157.0


def test_a_95_band_far_wider_than_the_80_band_is_explained() -> None:
    divine = {
        "forecast_chaos_1d": 100.0,
        "low80_chaos_1d": 98.0,
        "high80_chaos_1d": 102.0,
        "low95_chaos_1d": 62.0,
        "high95_chaos_1d": 157.0,
    }  # the Divine Orb: ±2% vs −38%/+57%
    assert tail_ratio(divine, "1d") > 10
    assert "Heavy tails at 1d" in heavy_tail_note(divine, "1d")
    normal = {**divine, "low95_chaos_1d": 97.0, "high95_chaos_1d": 103.1}
    assert heavy_tail_note(normal, "1d") is None
