"""Neutralise untrusted text (currency and league names come from remote APIs and dump files) in exports.

- CSV: a cell that starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return is a formula to a spreadsheet
  (OWASP "CSV injection"); it gets a leading ``'`` so it is shown as text. Numeric columns are untouched.
- Markdown (Dagster metadata): characters that make links, images, emphasis, code, HTML or table cells are
  backslash-escaped (``<`` and ``>`` become entities), line breaks become spaces, and other control, format
  and bidi characters (which can reorder what a reader sees) and lone surrogates become U+FFFD.
"""

import json
import unicodedata

import polars as pl

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Link, image, code, emphasis and table syntax. Not "_": CommonMark never reads an underscore inside a word as
# emphasis, and check and column names (weights_never_exceed_the_budget) stay searchable as written.
_MARKDOWN_SPECIAL = "\\`*[]!|"


def csv_safe_cell(value: str) -> str:
    """``value`` with a leading ``'`` when a spreadsheet would read it as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_safe_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every text cell passed through :func:`csv_safe_cell` (call it before ``write_csv``)."""
    text = [name for name, dtype in frame.schema.items() if dtype in (pl.Utf8, pl.Categorical, pl.Enum)]
    if not text:
        return frame
    pattern = "^[" + "".join("\\" + c if c in "-\\]^" else c for c in FORMULA_STARTS) + "]"
    return frame.with_columns(
        pl.when(pl.col(c).cast(pl.Utf8).str.contains(pattern))
        .then(pl.lit("'") + pl.col(c).cast(pl.Utf8))
        .otherwise(pl.col(c).cast(pl.Utf8))
        .alias(c)
        for c in text
    )


# A spreadsheet splits every line of a CSV at these (";" in locales whose list separator it is).
_CSV_SEPARATORS = {",": "\\u002c", ";": "\\u003b"}


def csv_comment_lines(fields: dict, prefix: str = "") -> list[str]:
    """``# key: value`` lines (value as JSON) that a spreadsheet shows as ONE text cell each, starting with ``#``.

    A comma or semicolon in a line would split it into cells, and a cell after the split that starts with ``=``,
    ``+``, ``-`` or ``@`` is a live formula (a league named ``Std,+cmd|' /C calc'!A0`` put one in cell B1). So:
    nested objects and lists become one line per leaf (``budget.amount``), never JSON with separating commas,
    and commas and semicolons inside strings are written as the JSON escapes ``\\u002c`` and ``\\u003b``:
    ``json.loads`` of the value still gives the original text. JSON already escapes CR, LF and tab."""
    lines = []
    for key, value in fields.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict | list | tuple) and value:
            items = value.items() if isinstance(value, dict) else enumerate(value)
            lines += csv_comment_lines(dict(items), prefix=f"{name}.")
            continue
        text = (
            json.dumps(value, default=str, ensure_ascii=False)
            if value not in ({}, [], ())
            else ("{}" if isinstance(value, dict) else "[]")
        )
        line = f"# {_csv_comment_key(name)}: {text}"
        for separator, escape in _CSV_SEPARATORS.items():
            line = line.replace(separator, escape)
        lines.append(line)
    return lines


def _csv_comment_key(name: str) -> str:
    """A key as plain text on one line (keys are the project's own, but never trusted to stay so)."""
    return json.dumps(name, ensure_ascii=False)[1:-1]


def markdown_text(value: str) -> str:
    """``value`` as literal text inside markdown (a table cell, a list item)."""
    out = []
    for ch in value:
        if ch in _MARKDOWN_SPECIAL:
            out.append("\\" + ch)
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch in "\r\n\u2028\u2029\x85":
            out.append(" ")
        elif unicodedata.category(ch) in (
            "Cc",
            "Cf",
            "Zl",
            "Zp",
            "Cs",
        ):  # Cs: a lone surrogate cannot be encoded
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)
