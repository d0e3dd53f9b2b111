"""Past leagues imported from poe.ninja dumps, and the league/currency partitions they reveal."""

import time

import dagster as dg

from poeconomy_assets.core.ingest.currency_names import canonicalize_currencies
from poeconomy_assets.core.ingest.dumps import league_catalog
from poeconomy_assets.core.report.markdown import frame_to_markdown
from poeconomy_assets.core.schemas import DailyPrices
from poeconomy_assets.defs.checks import schema_check_result, schema_check_spec
from poeconomy_assets.defs.partitions import register_partitions
from poeconomy_assets.resources.poe_ninja_dumps import PoeNinjaDumps


@dg.asset(
    group_name="ingestion",
    kinds={"polars", "parquet"},
    check_specs=[schema_check_spec("poe_ninja_history", DailyPrices)],
)
def poe_ninja_history(context: dg.AssetExecutionContext, poe_ninja_dumps: PoeNinjaDumps):  # no return annotation:
    # Dagster would read it as the type of every output, check outputs included
    """Daily chaos prices of every past league found in the poe.ninja dump directory.

    Registers each league and currency it finds as a dynamic partition. Rows that cannot be imported
    are quarantined (counted and listed here, never silently dropped); a malformed file fails the
    run with its name, line and field, and the previously imported history stays as it was.
    """
    started = time.perf_counter()
    imported = poe_ninja_dumps.read()
    canonical = canonicalize_currencies(imported.prices)  # one identity for every spelling of a currency
    prices = canonical.prices
    currencies = sorted(prices["currency"].unique().to_list())
    added = register_partitions(context.instance, imported.leagues, currencies)
    context.log.info(
        f"imported {prices.height} rows from {len(imported.files)} files: {len(imported.leagues)} leagues, "
        f"{len(currencies)} currencies; quarantined {imported.quarantine.height}; "
        f"new partitions: {added}"
    )
    catalog = league_catalog(prices)
    return dg.MaterializeResult(
        value=prices,
        metadata={
            "rows": prices.height,
            "files": len(imported.files),
            "leagues": len(imported.leagues),
            "currencies": len(currencies),
            "currency_names_renamed": ", ".join(f"{a} → {b}" for a, b in canonical.renamed.items()) or "none",
            "currency_near_misses": ", ".join(f"{a} ~ {b}" for a, b in canonical.near_misses.items()) or "none",
            "rows_merged_by_renames": canonical.merged_duplicates,
            "quarantined_rows": imported.quarantine.height,
            "skipped_not_chaos_rows": imported.skipped_not_chaos,
            "buy_side_only_rows": imported.buy_only_rows,
            "quarantine": dg.MetadataValue.md(frame_to_markdown(imported.quarantine, max_rows=30)),
            "league_catalog": dg.MetadataValue.md(frame_to_markdown(catalog)),
            "new_league_partitions": ", ".join(added["league"]) or "none",
            "new_currency_partitions": ", ".join(added["currency"]) or "none",
            "directory": dg.MetadataValue.path(poe_ninja_dumps.directory),
            "seconds": round(time.perf_counter() - started, 3),
        },
        check_results=[schema_check_result("poe_ninja_history", DailyPrices, prices)],
    )

