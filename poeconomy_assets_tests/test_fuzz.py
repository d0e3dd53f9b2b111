"""Property-based fuzzing (hypothesis) of everything that reads hostile input: the dump reader, the payload
parser, key escaping, and the CSV/markdown writers.

Bounded and reproducible for CI: a fixed profile (derandomize=True, a fixed number of examples, no deadline),
about 20 s on the 2-core machine. ``HYPOTHESIS_PROFILE=deep`` runs ten times as many examples, randomized.
"""

import csv
import io
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from poeconomy_assets.core.ingest.currency_names import FORBIDDEN_IN_NAMES, CurrencyResolver
from poeconomy_assets.core.ingest.dumps import HEADER, DumpError, read_dump_file
from poeconomy_assets.core.ingest.poe_watch_payloads import PayloadError, decode_json, parse_items
from poeconomy_assets.core.keys import key_from_name, name_from_key
from poeconomy_assets.core.report.markdown import frame_to_markdown
from poeconomy_assets.core.report.safe_text import FORMULA_STARTS, csv_safe_frame, markdown_text
from poeconomy_assets.resources.price_store import validate_snapshots

# The profiles ("ci": derandomized and bounded; "deep") are registered and loaded in conftest.py.
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
FEW = settings(settings.get_profile(PROFILE), max_examples=settings.get_profile(PROFILE).max_examples // 3)

# Characters that grow under NFC ("\ufb2c" becomes three), combining marks, and names at the length limit.
NFC_GROWING = ["\ufb2c", "\ufb2d", "\u0344", "\u1fee", "\ufb4b", "\u0958", "\U0001d15e"]
COMBINING = ["\u0301", "\u0308", "\u0327", "\u20dd"]
unicode_edges = (
    st.lists(st.sampled_from(NFC_GROWING), min_size=30, max_size=40).map("".join)
    | st.lists(st.sampled_from(["A", "e", *COMBINING]), max_size=120).map("".join)
    | st.integers(95, 105).map(lambda n: "O" * n)
)
# Text a CSV or markdown cell can hold (encodable: names are validated before anything is stored)...
hostile_text = (
    st.text(st.characters(codec="utf-8"), max_size=40)
    | unicode_edges
    | st.sampled_from(
        [
            "..",
            ".",
            "/",
            "../x",
            "=1+1",
            "@SUM(A1)",
            "-2",
            "\t",
            "\r",
            "a\x00b",
            "Divine\u202eOrb",
            "x\u2028y",
            "[a](http://e)",
            "![i](http://e/x.png)",
            "<script>",
            "a|b",
            "Divine Orb",
            "Chaos Orb",
            "E" * 500,
        ]
    )
)
# ... and text a JSON payload can carry: lone surrogates too ("X \ud800" once lost whole payloads).
any_text = (
    hostile_text
    | st.text(st.characters(exclude_categories=()), max_size=40)
    | st.sampled_from(["X \ud800", "\udfff", "Orb \ud83d", "\ud800\udc00"])
)
numbers = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(
        [
            2**63,
            2**63 - 1,
            10**400,
            1.7e308,
            1e300,
            1e-320,
            5e-324,
            -0.0,
            "12",
            "1e400",
            "nan",
            " 3.5 ",
            True,
            None,
        ]
    )
)
json_leaf = st.none() | st.booleans() | numbers | hostile_text
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)
item = st.fixed_dictionaries(
    {},
    optional={
        "id": numbers,
        "name": any_text,
        "mean": numbers,
        "min": numbers,
        "max": numbers,
        "daily": numbers,
        "category": st.sampled_from(["currency", "fragment", "gem", "", None, 3]),
        "lowConfidence": json_leaf,
        "history": json_value,
    },
)


@FEW
@given(st.lists(item | json_value, max_size=12))
@example([{"id": 2**63 - 1, "name": "0", "mean": 1, "daily": 2**63 - 1}])  # found by the deep profile
@example([{"id": 1, "name": "X \ud800", "mean": 1}, {"id": 2, "name": "\ufb2c" * 34, "mean": 1}])  # issue 21
def test_the_payload_parser_never_raises_and_only_returns_storable_rows(items: list) -> None:
    parsed = parse_items(
        items,
        league="Settlers",
        category="currency",
        snapshot_at=datetime(2025, 6, 20, 12, tzinfo=UTC),
        payload_hash="h",
        resolver=CurrencyResolver(["Divine Orb"]),
    )
    skipped = sum(1 for p in parsed.problems if p["skipped"])
    assert parsed.rows.height + skipped <= parsed.received == len(items)
    validate_snapshots(parsed.rows)  # every accepted row is one the price store takes


@FEW
@given(st.binary(max_size=200) | json_value.map(lambda v: json.dumps(v).encode()))
def test_decoding_any_body_gives_json_or_a_payload_error(body: bytes) -> None:
    try:
        decode_json(body)
    except PayloadError:
        pass


@settings(settings.get_profile(PROFILE))
@given(any_text.filter(lambda s: s and s == s.strip()))
def test_keys_round_trip_and_stay_inside_their_folder(name: str) -> None:
    if re.search("[\ud800-\udfff]", name):  # not text: refused with a clear error, never a UnicodeEncodeError
        with pytest.raises(ValueError, match="lone surrogate") as caught:
            key_from_name(name)
        assert type(caught.value) is ValueError
        return
    key = key_from_name(name)
    assert name_from_key(key) == name
    assert key not in (".", "..") and not key.startswith(".") and not re.search(r"[/\\\x00]", key)
    base = Path("/srv/models")
    assert (base / key).parent == base


@settings(settings.get_profile(PROFILE))
@given(st.lists(hostile_text, min_size=1, max_size=5))
def test_csv_cells_never_start_a_formula_and_keep_their_text(cells: list[str]) -> None:
    text = csv_safe_frame(pl.DataFrame({"currency": cells, "price": [1.0] * len(cells)})).write_csv()
    read = [row["currency"] for row in csv.DictReader(io.StringIO(text))]
    assert all(not cell.startswith(FORMULA_STARTS) for cell in read)
    assert [
        c[1:] if c.startswith("'") and o.startswith(FORMULA_STARTS) else c for c, o in zip(read, cells)
    ] == cells


@settings(settings.get_profile(PROFILE))
@given(hostile_text)
def test_markdown_cells_hold_no_live_link_image_html_or_separator(name: str) -> None:
    row = frame_to_markdown(pl.DataFrame({"currency": [name], "n": [1]})).splitlines()[2]
    unescaped = re.sub(r"\\.", "", row)
    assert (
        unescaped.count("|") == 3 and "[" not in unescaped and "]" not in unescaped and "<" not in unescaped
    )
    assert "\n" not in markdown_text(name)


@settings(settings.get_profile(PROFILE))
@given(any_text)
def test_markdown_text_of_any_string_is_encodable_single_line_text(name: str) -> None:
    text = markdown_text(name)
    text.encode("utf-8")  # a lone surrogate would fail Dagster's metadata storage
    assert "\n" not in text and "\r" not in text


dump_field = {
    "League": st.sampled_from(["Heist", "Heist", "Heist", "", "He\x00ist", "Other"]),
    "Date": st.sampled_from(["2020-09-18", "2020-09-19", "2020-10-01", "2099-01-01", "2020-13-01", "", "x"]),
    "Get": hostile_text.map(lambda s: s.replace(";", ",").replace("\n", " ").replace("\r", " ")),
    "Pay": st.sampled_from(["Chaos Orb", "Chaos Orb", "Chaos Orb", "Divine Orb"]),
    "Value": st.sampled_from(["4.0", "0", "-1", "nan", "inf", "1e400", "abc", "", "12"]),
    "Confidence": st.sampled_from(["High", "low", "Medium", "?", ""]),
}
dump_line = st.fixed_dictionaries(dump_field).map(
    lambda row: ";".join(row[c] for c in HEADER)
) | st.sampled_from(["Heist;2020-09-18;Divine Orb", "a;b;c;d;e;f;g"])


@FEW
@given(st.lists(dump_line, min_size=1, max_size=15))
def test_every_dump_line_is_a_price_a_quarantined_row_or_a_named_error(
    tmp_path_factory, lines: list[str]
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "Heist.currency.csv"
    path.write_text("\n".join([";".join(HEADER), *lines]) + "\n", encoding="utf-8")
    try:
        imported = read_dump_file(path)
    except DumpError as exc:
        assert re.match(r"Heist\.currency\.csv line \d+", str(exc)), str(exc)
        return
    counted = imported.prices.height + imported.quarantine.height + imported.skipped_not_chaos
    assert counted == sum(1 for line in lines if line.strip())  # nothing vanishes
    assert set(imported.quarantine["line"].to_list()) <= set(range(2, len(lines) + 2))
    assert not any(FORBIDDEN_IN_NAMES.search(n) for n in imported.prices["currency"].to_list())
