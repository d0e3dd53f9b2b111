"""core.progress: done / total and time left, at most every ``every`` seconds, always at the end."""

from poeconomy_assets.core.progress import Progress


def test_logs_at_most_every_interval_and_always_at_the_end() -> None:
    lines: list[str] = []
    progress = Progress(5, "models", lines.append, unit="models", every=3600.0)
    for _ in range(4):
        progress.step()
    assert lines == []  # within the interval: quiet
    progress.step()
    assert lines == ["models: 5/5 models (0s, done)"]


def test_every_step_is_logged_with_a_zero_interval_and_the_left_time_is_estimated() -> None:
    lines: list[str] = []
    progress = Progress(3, "forecasts", lines.append, every=0.0)
    progress.step()
    progress.step()
    assert len(lines) == 2 and lines[0].startswith("forecasts: 1/3 items (") and "left" in lines[1] or \
        "estimating" in lines[1]
