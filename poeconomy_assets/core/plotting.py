"""The one matplotlib setup of every chart: the Agg backend (no display; safe in daemons and worker processes),
chosen on first use so that importing a chart module never imports matplotlib, and a figure saved as PNG bytes."""

import io


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png_bytes(fig) -> bytes:
    """The figure as PNG bytes (80 dpi, the size every chart is drawn for); the figure is closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    pyplot().close(fig)
    return buffer.getvalue()
