"""Past leagues imported from poe.ninja dumps, and the league/currency partitions they reveal."""

import time

import dagster as dg
import polars as pl

from poeconomy_assets.core.ingest import canonicalize_currencies, league_catalog
from poeconomy_assets.core.models import MIN_DAYS, MIN_RELIABLE_ROWS, SelectionConfig, select_currencies
from poeconomy_assets.core.report import frame_to_markdown
from poeconomy_assets.core.schemas import DailyPrices
from poeconomy_assets.defs.checks import schema_check_result, schema_check_spec
from poeconomy_assets.defs.partitions import register_partitions
from poeconomy_assets.resources.poe_ninja_dumps import PoeNinjaDumps


class ItemEligibility(dg.Config):
    """Which items get partitions (features, models, forecasts): enough priced days over all leagues, enough
    of them not marked Low confidence. The others stay in the price history (market-wide features read
    them) and are listed with the reason in this asset's metadata."""

    min_days: int = MIN_DAYS
    min_reliable_rows: int = MIN_RELIABLE_ROWS


@dg.asset(
    group_name="ingestion",
    kinds={"polars", "parquet"},
    check_specs=[schema_check_spec("poe_ninja_history", DailyPrices)],
)
def poe_ninja_history(
    context: dg.AssetExecutionContext, config: ItemEligibility, poe_ninja_dumps: PoeNinjaDumps
):  # no return annotation:
    # Dagster would read it as the type of every output, check outputs included
    """Daily chaos prices of every past league found in the poe.ninja dump directory.

    Registers each league it finds, and each currency with enough history (``ItemEligibility``), as a
    dynamic partition. Rows that cannot be imported
    are quarantined (counted and listed here, never silently dropped); a malformed file fails the
    run with its name, line and field, and the previously imported history stays as it was.
    """
    started = time.perf_counter()
    imported = poe_ninja_dumps.read()
    canonical = canonicalize_currencies(imported.prices)  # one identity for every spelling of a currency
    prices = canonical.prices
    currencies = sorted(prices["currency"].unique().to_list())
    eligible = select_currencies(  # every item counts as trading: past leagues' items all get forecasts
        prices,
        SelectionConfig(min_days=config.min_days, min_reliable_rows=config.min_reliable_rows),
        live_items=set(currencies),
    )
    added = register_partitions(context.instance, imported.leagues, eligible.selected)
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
            "items_forecast": len(eligible.selected),
            "items_skipped": len(eligible.excluded),
            "items_skipped_reasons": dg.MetadataValue.md(
                frame_to_markdown(
                    pl.DataFrame(
                        {"item": list(eligible.excluded), "reason": list(eligible.excluded.values())},
                        schema={"item": pl.Utf8, "reason": pl.Utf8},
                    ),
                    max_rows=60,
                )
            ),
            "currency_names_renamed": ", ".join(f"{a} → {b}" for a, b in canonical.renamed.items()) or "none",
            "currency_near_misses": ", ".join(f"{a} ~ {b}" for a, b in canonical.near_misses.items())
            or "none",
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
