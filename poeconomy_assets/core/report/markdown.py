"""Markdown rendering of small polars frames for Dagster metadata."""

import polars as pl

from poeconomy_assets.core.report.numbers import price_text
from poeconomy_assets.core.report.safe_text import markdown_text


def frame_to_markdown(frame: pl.DataFrame, max_rows: int = 50, float_digits: int = 4) -> str:
    """A GitHub-style markdown table of the first ``max_rows`` rows."""
    if frame.is_empty():
        return "_(no rows)_"
    shown = frame.head(max_rows)
    cells = [[_cell(v, float_digits) for v in row] for row in shown.iter_rows()]
    lines = ["| " + " | ".join(map(markdown_text, shown.columns)) + " |", "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    if frame.height > max_rows:
        lines.append(f"\n_… {frame.height - max_rows} more rows_")
    return "\n".join(lines)


def _cell(value: object, digits: int) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return price_text(value)  # 4 significant digits, never scientific notation
    return markdown_text(str(value))  # link, image and table syntax in names stays literal


class Markdown(str):
    """Text that is markdown: plain code returns it among metadata values, and the Dagster side
    (``defs/metadata.py``'s ``as_metadata``) shows it rendered."""
