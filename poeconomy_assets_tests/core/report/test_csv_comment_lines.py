"""Issue 21: the CSV export's ``#`` header lines never put a live formula in a spreadsheet cell.

A spreadsheet opening the CSV splits every line at commas (or semicolons, in locales that use them) and runs a
cell that starts with ``=``, ``+``, ``-``, ``@``, tab or CR as a formula. The header lines carry a league name
and the item named in the hold reason, both from remote data.
"""

import csv
import dataclasses
import io
import json

import polars as pl

from poeconomy_assets.core.report.export import report_csv
from poeconomy_assets.core.report.glossary import glossary_comment_lines
from poeconomy_assets.core.report.safe_text import FORMULA_STARTS, csv_comment_lines

from .test_report import _mirror_report

EVIL_LEAGUE = "Std,+cmd|' /C calc'!A0,x"
EVIL_ITEM = 'C1,=HYPERLINK("http://e";"x"),-2;@SUM(A1)'


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _cells(text: str, delimiter: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def test_a_league_and_an_item_with_formulas_stay_inside_one_text_cell_per_header_line() -> None:
    base = _mirror_report({"C1": 0.001, "C2": -0.02})  # nothing clears the minimum edge: a hold reason
    ranking = base.ranking.with_columns(
        pl.col("currency").replace({"C1": EVIL_ITEM, "C2": EVIL_ITEM + "2", "C3": EVIL_ITEM + "3"})
    )
    report = dataclasses.replace(base, league=EVIL_LEAGUE, ranking=ranking)
    assert report.hold_reason  # a hold reason, written into the header like every other value
    text = report_csv(report)
    glossary = set(glossary_comment_lines())  # the project's own text, the same in every file
    head = [line for line in text.splitlines() if line.startswith("# ") and line not in glossary]
    assert len(head) > 10
    for delimiter in (",", ";"):
        for row in _cells("\n".join(head), delimiter):
            assert len(row) == 1 and row[0].startswith("#"), row  # one cell, which starts with "#": text
    for row in _cells(text, ","):  # and no text cell of the whole file starts a formula (-2.5 is a number)
        assert not any(cell.startswith(FORMULA_STARTS) and not _number(cell) for cell in row), row
    league_line = next(line for line in head if line.startswith("# league: "))
    assert json.loads(league_line.removeprefix("# league: ")) == EVIL_LEAGUE  # the value survives, as JSON
    hold_line = next(line for line in head if line.startswith("# hold_reason: "))
    assert json.loads(hold_line.removeprefix("# hold_reason: ")) == report.hold_reason
    assert pl.read_csv(text.encode(), comment_prefix="#").height == report.ranking.height


def test_nested_values_become_one_line_per_leaf() -> None:
    lines = csv_comment_lines(
        {"budget": {"amount": 100, "unit": "chaos,=1"}, "empty": {}, "list": [1, "a;b"]}
    )
    assert lines == [
        "# budget.amount: 100",
        '# budget.unit: "chaos\\u002c=1"',
        "# empty: {}",
        "# list.0: 1",
        '# list.1: "a\\u003bb"',
    ]
    assert json.loads(lines[1].split(": ", 1)[1]) == "chaos,=1"
