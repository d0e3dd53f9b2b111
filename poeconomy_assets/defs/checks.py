"""Data-quality checks computed in the asset's own step: one blocking pandera check per stored table, built by
a factory, and the forecasts' consistency check.

Each asset declares its checks with :func:`schema_check_spec` (and :func:`consistency_check_spec`) and reports
them with :func:`schema_check_result` (:func:`consistency_check_result`), so a check always sees exactly the
partition that was just written and, being blocking, stops downstream steps of the same run when it fails.
"""

import dagster as dg
import pandera.errors
import pandera.polars as pa
import polars as pl

from poeconomy_assets.core.report import frame_to_markdown
from poeconomy_assets.core.uncertainty import check_consistency
from poeconomy_assets.defs.ui_metadata import table_value

MAX_FAILURE_ROWS = 20
CONSISTENCY_CHECK = "forecasts_are_consistent"
MAX_PROBLEM_ROWS = 10


def schema_check_spec(asset: str, schema: type[pa.DataFrameModel]) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name=f"{asset}_schema",
        asset=asset,
        blocking=True,
        description=f"Rows satisfy the pandera schema {schema.__name__}: {(schema.__doc__ or '').strip()}",
    )


def schema_check_result(
    asset: str, schema: type[pa.DataFrameModel], frame: pl.DataFrame
) -> dg.AssetCheckResult:
    """Validate lazily (every failure, not just the first) and put failure cases into metadata."""
    try:
        schema.validate(frame, lazy=True)
    except (pandera.errors.SchemaErrors, pandera.errors.SchemaError) as exc:
        cases = getattr(exc, "failure_cases", None)
        table = _failure_table(cases)
        return dg.AssetCheckResult(
            check_name=f"{asset}_schema",
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "failure_count": 0 if cases is None else len(cases),
                "failure_cases": dg.MetadataValue.md(table),
                "rows": frame.height,
            },
        )
    return dg.AssetCheckResult(check_name=f"{asset}_schema", passed=True, metadata={"rows": frame.height})


def schema_check_each(
    asset: str, schema: type[pa.DataFrameModel], frames: dict[str, pl.DataFrame]
) -> dg.AssetCheckResult:
    """:func:`schema_check_result` on each partition's frame of a batched run (for schemas whose rules hold
    within one partition, such as one rank per report): the first failing partition's cases, named."""
    for key, frame in frames.items():
        result = schema_check_result(asset, schema, frame)
        if not result.passed:
            return dg.AssetCheckResult(
                check_name=result.check_name,
                passed=False,
                severity=result.severity,
                metadata={**result.metadata, "partition": key},
            )
    return dg.AssetCheckResult(
        check_name=f"{asset}_schema",
        passed=True,
        metadata={"rows": sum(f.height for f in frames.values()), "partitions": len(frames)},
    )


def consistency_check_spec(asset: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name=CONSISTENCY_CHECK,
        asset=asset,
        blocking=True,
        description="Every forecast written is one consistent distribution: quantiles in order, the 80% band inside "
        "the 95% band, the median as the point forecast, P(up) on the side of the bands where today's "
        "price sits (core.uncertainty.distribution.check_consistency).",
    )


def consistency_check_result(
    asset: str, forecasts: pl.DataFrame, horizon_days: dict[str, int] | None = None
) -> dg.AssetCheckResult:
    """:func:`check_consistency` on every row of ``forecasts``: how many were checked, how many contradict
    themselves, and per kind of contradiction its count and first forecast (an inline table)."""
    found = check_consistency(forecasts, horizon_days)
    metadata: dict[str, object] = {
        "forecasts_checked": found.checked,
        "inconsistent_forecasts": found.inconsistent,
        "problems_found": found.problems.height,
    }
    if found.problems.height:
        metadata["failure_cases"] = table_value(found.problems, max_rows=MAX_PROBLEM_ROWS, digits=6)
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=CONSISTENCY_CHECK,
        passed=found.problems.height == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
        description="; ".join(found.messages()) or None,
    )


def _failure_table(cases: object) -> str:
    if cases is None:
        return "(no failure cases reported)"
    frame = cases if isinstance(cases, pl.DataFrame) else pl.from_pandas(cases)  # type: ignore[arg-type]
    return frame_to_markdown(frame.select(pl.all().cast(pl.Utf8)), max_rows=MAX_FAILURE_ROWS)
