"""Neutralise untrusted text (currency and league names come from remote APIs and dump files) in exports.

- CSV: a cell that starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return is a formula to a spreadsheet
  (OWASP "CSV injection"); it gets a leading ``'`` so it is shown as text. Numeric columns are untouched.
- Markdown (Dagster metadata): characters that make links, images, emphasis, code, HTML or table cells are
  backslash-escaped (``<`` and ``>`` become entities), line breaks become spaces, and other control, format
  and bidi characters (which can reorder what a reader sees) become U+FFFD.
"""

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
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)
