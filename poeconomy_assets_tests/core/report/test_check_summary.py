from dataclasses import dataclass

import dagster as dg

from poeconomy_assets.core.report.check_summary import check_summary_line


@dataclass
class _Evaluation:
    check_name: str
    passed: bool
    severity: object = dg.AssetCheckSeverity.ERROR


def test_warnings_are_counted_not_hidden() -> None:
    evaluations = [
        _Evaluation("schema", True),
        *[_Evaluation("forecast_scorecard", False, dg.AssetCheckSeverity.WARN)] * 30,
    ]
    line = check_summary_line(evaluations)
    assert line == "checks: 1 passed, 0 failed, 30 warnings (warnings: forecast_scorecard ×30)"


def test_failures_and_warnings_are_named_apart() -> None:
    line = check_summary_line(
        [_Evaluation("schema", False), _Evaluation("drift", False, dg.AssetCheckSeverity.WARN)]
    )
    assert line == "checks: 0 passed, 1 failed, 1 warning (failed: schema; warnings: drift)"
    assert check_summary_line([]) == "checks: 0 passed, 0 failed, 0 warnings"


def test_real_dagster_evaluations() -> None:
    evaluation = dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey("a"), check_name="bands", passed=False, severity=dg.AssetCheckSeverity.WARN
    )
    assert "1 warning (warnings: bands)" in check_summary_line([evaluation])
