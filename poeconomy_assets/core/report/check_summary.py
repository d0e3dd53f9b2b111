"""One line on a run's asset checks that counts warnings as well as failures (issue 20).

``check_summary_line(evaluations)`` takes Dagster ``AssetCheckEvaluation`` objects (or anything with
``passed``, ``severity`` and ``check_name``, plus an optional ``partition`` label) and says how many checks
passed, failed (severity ERROR) and warned (severity WARN), naming each failing and warning check:
"checks: 40 passed, 0 failed, 30 warnings (forecast_scorecard ×30)".
"""

from collections import Counter
from collections.abc import Iterable


def _severity(evaluation) -> str:
    severity = getattr(evaluation, "severity", None)
    return str(getattr(severity, "value", getattr(severity, "name", severity)) or "ERROR").upper()


def _named(counter: Counter) -> str:
    return ", ".join(f"{name} ×{count}" if count > 1 else name for name, count in sorted(counter.items()))


def check_summary_line(evaluations: Iterable) -> str:
    evaluations = list(evaluations)
    failed = Counter(e.check_name for e in evaluations if not e.passed and _severity(e) != "WARN")
    warned = Counter(e.check_name for e in evaluations if not e.passed and _severity(e) == "WARN")
    passed = sum(1 for e in evaluations if e.passed)
    line = (
        f"checks: {passed} passed, {sum(failed.values())} failed, {sum(warned.values())} "
        f"warning{'' if sum(warned.values()) == 1 else 's'}"
    )
    details = [f"failed: {_named(failed)}"] if failed else []
    details += [f"warnings: {_named(warned)}"] if warned else []
    return line + (f" ({'; '.join(details)})" if details else "")
