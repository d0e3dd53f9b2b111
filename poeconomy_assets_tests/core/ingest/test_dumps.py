"""The poe.ninja dump importer: every kind of bad input is named (file, line, field) or quarantined."""

import math
from pathlib import Path

import polars as pl
import pytest

from poeconomy_assets.core.ingest.dumps import DumpError, league_catalog, read_dump_dir, read_dump_file
from poeconomy_assets.core.schemas import DailyPrices

HEADER = "League;Date;Get;Pay;Value;Confidence"
GOOD = [
    "Heist;2020-09-18;Divine Orb;Chaos Orb;4.0;High",
    "Heist;2020-09-18;Exalted Orb;Chaos Orb;40.5;Medium",
    "Heist;2020-09-19;Divine Orb;Chaos Orb;4.2;high",
    "Heist;2020-09-19;Exalted Orb;Chaos Orb;41;Low",
]


def _write(tmp_path: Path, lines: list[str], name: str = "Heist.currency.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_good_file_imports_every_row_with_divine_prices(tmp_path: Path) -> None:
    imported = read_dump_dir(_write(tmp_path, [HEADER, *GOOD]).parent)
    assert imported.prices.height == 4 and imported.quarantine.height == 0
    DailyPrices.validate(imported.prices)
    exalted = imported.prices.filter(pl.col("currency") == "Exalted Orb").sort("date")
    assert exalted["price_divine"].to_list() == pytest.approx([40.5 / 4.0, 41 / 4.2])
    assert exalted["league_day"].to_list() == [0, 1]
    assert imported.prices["confidence"].unique().sort().to_list() == ["High", "Low", "Medium"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("League,Date,Get,Pay,Value,Confidence", "wrong delimiter"),
        ("League;Day;Get;Pay;Value;Confidence", "header is"),
        ("", "empty file"),
    ],
)
def test_malformed_header_names_file_and_line(tmp_path: Path, header: str, expected: str) -> None:
    path = _write(tmp_path, [header] + ([g.replace(";", ",") for g in GOOD] if header else []))
    with pytest.raises(DumpError, match=rf"Heist.currency.csv line 1: .*{expected}"):
        read_dump_file(path)


@pytest.mark.parametrize(
    ("bad_row", "field", "reason"),
    [
        ("Heist;2020-09-20;Exalted Orb;Chaos Orb;abc;High", "Value", "not a number"),
        ("Heist;2020-09-20;Exalted Orb;Chaos Orb;0;High", "Value", "zero or negative"),
        ("Heist;2020-09-20;Exalted Orb;Chaos Orb;-2.5;High", "Value", "zero or negative"),
        ("Heist;2020-09-20;Exalted Orb;Chaos Orb;NaN;High", "Value", "not a finite number"),
        ("Heist;20/09/2020;Exalted Orb;Chaos Orb;40;High", "Date", "unparseable date"),
        ("Heist;2020-09-20;Exalted Orb;Chaos Orb;40;Sure", "Confidence", "unknown confidence word"),
        ("Heist;2020-09-19;Exalted Orb;Chaos Orb;99;High", "League/Date/Get", "duplicate of line 5"),
        ("Heist;2020-09-20;Exalted Orb;Chaos Orb;40", "row", "5 fields, expected 6"),
        ("Heist;2020-09-20;;Chaos Orb;40;High", "Get", "empty currency name"),
    ],
)
def test_bad_row_is_quarantined_with_line_field_and_reason(
    tmp_path: Path, bad_row: str, field: str, reason: str
) -> None:
    imported = read_dump_file(_write(tmp_path, [HEADER, *GOOD, bad_row]))
    assert imported.prices.height == 4, "good rows are all kept"
    assert imported.quarantine.height == 1
    row = imported.quarantine.row(0, named=True)
    assert (row["file"], row["line"], row["field"]) == ("Heist.currency.csv", 6, field)
    assert reason in row["reason"]


def test_strict_mode_raises_on_the_first_bad_row(tmp_path: Path) -> None:
    path = _write(tmp_path, [HEADER, *GOOD, "Heist;2020-09-20;Exalted Orb;Chaos Orb;-1;High"])
    with pytest.raises(
        DumpError, match=r"Heist.currency.csv line 6: field Value = '-1': zero or negative price"
    ):
        read_dump_file(path, strict=True)


def test_buy_side_rows_become_buy_price_spread_and_confidence(tmp_path: Path) -> None:
    """Get = Chaos Orb is the buy side: 1 / Value is its chaos price, log(sell / buy) the day's spread."""
    buy_rows = [
        "Heist;2020-09-18;Chaos Orb;Divine Orb;0.3;Medium",  # one chaos buys 0.3 Divine: 3.33c a Divine
        "Heist;2020-09-20;Chaos Orb;Exalted Orb;0.02;High",  # no sell side that day: counted, no price
        "Heist;2020-09-20;Divine Orb;Exalted Orb;10;High",  # neither side is chaos
    ]
    imported = read_dump_dir(_write(tmp_path, [HEADER, *GOOD, *buy_rows]).parent)
    assert imported.quarantine.height == 0 and imported.prices.height == 4
    assert imported.skipped_not_chaos == 1 and imported.buy_only_rows == 1
    DailyPrices.validate(imported.prices)
    divine = imported.prices.filter(pl.col("currency") == "Divine Orb").sort("date").row(0, named=True)
    assert divine["price_chaos"] == 4.0, "the sell side stays the price"
    assert divine["buy_price_chaos"] == pytest.approx(1 / 0.3) and divine["buy_confidence"] == "Medium"
    assert divine["log_spread"] == pytest.approx(math.log(4.0 / (1 / 0.3)))
    others = imported.prices.filter(pl.col("buy_price_chaos").is_null())
    assert (
        others.height == 3
        and others["log_spread"].null_count() == 3
        and others["buy_confidence"].null_count() == 3
    )


def test_a_bad_buy_side_row_is_quarantined_under_its_own_field(tmp_path: Path) -> None:
    rows = [
        HEADER,
        *GOOD,
        "Heist;2020-09-18;Chaos Orb;Divine Orb;0;High",
        "Heist;2020-09-19;Chaos Orb;;2;High",
    ]
    imported = read_dump_file(_write(tmp_path, rows))
    assert imported.quarantine.select("line", "field").rows() == [(6, "Value"), (7, "Pay")]
    assert imported.prices.height == 4 and imported.prices["buy_price_chaos"].null_count() == 4


def test_one_file_must_hold_one_league(tmp_path: Path) -> None:
    path = _write(tmp_path, [HEADER, *GOOD, "Ritual;2021-01-15;Divine Orb;Chaos Orb;5;High"])
    with pytest.raises(DumpError, match=r"line 6: field League is 'Ritual'"):
        read_dump_file(path)


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DumpError, match="no \\*.currency.csv files"):
        read_dump_dir(tmp_path)


def test_real_leagues(real_dumps_dir: Path) -> None:
    """28 leagues (../shared/data/README.md): 370,574 rows: 212,469 sell side (Pay = Chaos Orb), one price row
    each; 158,105 buy side (Get = Chaos Orb): 154,736 pair with that day's sell side, 3,357 have none, and 12
    say one chaos buys 0 of an item (quarantined)."""
    imported = read_dump_dir(real_dumps_dir)
    assert len(imported.leagues) == 28 and len(imported.currencies) == 233
    assert imported.prices.height == 212_469 and imported.skipped_not_chaos == 0
    with_buy_side = imported.prices["buy_price_chaos"].is_not_null().sum()
    assert (with_buy_side, imported.buy_only_rows, imported.quarantine.height) == (154_736, 3_357, 12)
    assert set(imported.quarantine["reason"]) == {"zero or negative price"}
    assert (
        imported.prices.height + with_buy_side + imported.buy_only_rows + imported.quarantine.height
        == 370_574
    )
    assert imported.prices["log_spread"].null_count() == imported.prices.height - with_buy_side
    assert imported.leagues[0] == "Essence" and imported.leagues[-1] == "Phrecia"
    assert imported.leagues[imported.leagues.index("Ultimatum") :] == [
        "Ultimatum", "Expedition", "Scourge", "Archnemesis", "Sentinel", "Kalandra", "Sanctum",
        "Crucible", "Ancestor", "Affliction", "Phrecia",
    ]  # fmt: skip
    DailyPrices.validate(imported.prices, lazy=True)
    catalog = league_catalog(imported.prices)
    assert catalog["league"].to_list() == imported.leagues
    assert catalog["recency_rank"].to_list() == list(range(27, -1, -1))
    assert (catalog["start_date"].shift(-1).drop_nulls() > catalog["end_date"].head(27)).all(), (
        "leagues do not overlap"
    )
