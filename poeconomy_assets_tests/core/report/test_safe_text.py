"""Exports cannot inject: CSV formulas are neutralised, markdown links and images in names are escaped."""

import csv
import io

import polars as pl
import pytest

from poeconomy_assets.core.report.markdown import frame_to_markdown
from poeconomy_assets.core.report.safe_text import csv_safe_frame, markdown_text


@pytest.mark.parametrize(
    "cell", ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\tTab", "\rCR", "=cmd|' /C calc'!A0"]
)
def test_csv_cells_that_start_a_formula_are_neutralised(cell: str) -> None:
    frame = pl.DataFrame({"currency": [cell], "price": [1.5]})
    text = csv_safe_frame(frame).write_csv()
    value = next(csv.DictReader(io.StringIO(text)))["currency"]
    assert value == "'" + cell and value[0] == "'"


def test_plain_cells_and_numbers_are_unchanged() -> None:
    frame = pl.DataFrame({"currency": ["Divine Orb", "Xoph's Breachstone"], "change": [-0.5, 0.25]})
    assert csv_safe_frame(frame).equals(frame)


@pytest.mark.parametrize(
    "name",
    [
        "[click](http://evil.example)",
        "![img](http://evil.example/x.png)",
        "<img src=x onerror=alert(1)>",
        "a|b",
        "`code`",
        "*bold*",
    ],
)
def test_markdown_metadata_escapes_links_images_and_html(name: str) -> None:
    table = frame_to_markdown(pl.DataFrame({"currency": [name]}))
    row = table.splitlines()[2]
    assert "](" not in row.replace("\\](", "") and "<img" not in row
    assert row.count("|") - row.count("\\|") == 2  # only the table's own two separators
    assert markdown_text(name) != name


def test_markdown_text_keeps_ordinary_names_readable() -> None:
    assert markdown_text("Xoph's Breachstone (Uber)") == "Xoph's Breachstone (Uber)"
