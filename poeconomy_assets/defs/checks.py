"""pandera-backed data-quality checks: one blocking check per stored table, built by a factory.

Each asset declares its check with :func:`schema_check_spec` and reports it with
:func:`schema_check_result`, so the check always sees exactly the partition that was just written
and, being blocking, stops downstream steps of the same run when it fails.
"""

import dagster as dg
import pandera.errors
import pandera.polars as pa
import polars as pl

from poeconomy_assets.core.report.markdown import frame_to_markdown

MAX_FAILURE_ROWS = 20


def schema_check_spec(asset: str, schema: type[pa.DataFrameModel]) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name=f"{asset}_schema",
        asset=asset,
        blocking=True,
        description=f"Rows satisfy the pandera schema {schema.__name__}: {(schema.__doc__ or '').strip()}",
    )


def schema_check_result(asset: str, schema: type[pa.DataFrameModel], frame: pl.DataFrame) -> dg.AssetCheckResult:
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



def _failure_table(cases: object) -> str:
    if cases is None:
        return "(no failure cases reported)"
    frame = cases if isinstance(cases, pl.DataFrame) else pl.from_pandas(cases)  # type: ignore[arg-type]
    return frame_to_markdown(frame.select(pl.all().cast(pl.Utf8)), max_rows=MAX_FAILURE_ROWS)
