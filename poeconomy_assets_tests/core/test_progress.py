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


def test_every_step_is_logged_with_a_zero_interval_and_the_time_left_estimated() -> None:
    lines: list[str] = []
    progress = Progress(4, "L", lines.append, unit="item models", every=0.0)
    for _ in range(4):
        progress.step()
    assert len(lines) == 4
    assert lines[0].startswith("L: 1/4 item models (") and "s left" in lines[1]
    assert lines[-1].startswith("L: 4/4 item models (") and lines[-1].endswith("done)")
