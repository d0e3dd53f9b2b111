"""The HTML report in a real headless Chromium at 1,400 px: no sideways scroll, no heading twice.

Skips (visibly) when Chromium is not installed: ``apt-get install -y chromium``; fails instead under
POECONOMY_REQUIRE_BROWSER=1, which .ci/run sets after installing it."""

import importlib.util
import os
from pathlib import Path

import pytest

from poeconomy_assets.core.report.html import report_html

from .test_report import _mirror_report

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "report_check.py"


def _checker():
    spec = importlib.util.spec_from_file_location("report_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "returns",
    [{"C1": 0.08, "C2": 0.06, "C3": 0.05, "C4": 0.04}, {"C1": 0.001}],
    ids=["allocation", "hold-chaos"],
)
def test_report_fits_1400_px_without_repeated_headings(returns: dict, tmp_path: Path) -> None:
    checker = _checker()
    if not checker.find_chromium():
        if os.environ.get("POECONOMY_REQUIRE_BROWSER") == "1":
            pytest.fail(
                "POECONOMY_REQUIRE_BROWSER=1 but Chromium is not installed (apt-get install -y chromium)"
            )
        pytest.skip("Chromium not installed (apt-get install -y chromium): the browser check did not run")
    from poeconomy_assets.core.report.charts import allocation_chart_png

    report = _mirror_report(returns)
    chart = allocation_chart_png(report.allocation, report.cash_chaos, report.divine_price_chaos)
    page = tmp_path / "report.html"
    page.write_text(report_html(report, {"Allocation": chart}), encoding="utf-8")
    found = checker.check_page(page, tmp_path / "report.png", width=1400)
    assert found["scroll_width"] <= found["window_width"], found
    assert found["duplicated_headings"] == [], found
    assert found["headings"][:3] == ["H1 L: investment report", "H2 Summary", "H2 Allocation"]
    assert found["details"] == report.ranking.height and (tmp_path / "report.png").stat().st_size > 10_000
