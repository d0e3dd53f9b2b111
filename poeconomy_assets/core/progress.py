"""Items done / total and the time left, logged at most every ``every`` seconds and once at the end."""

import threading
import time
from collections.abc import Callable


class Progress:
    """Counts items done and logs "label: done/total unit (elapsed, about N s left)" at most every ``every``
    seconds, and when the last item is done. The rate is measured from the first item done, so a slow start
    (a pooled search before the first model) does not make the first estimates absurd."""

    def __init__(
        self, total: int, label: str, log: Callable[[str], None], unit: str = "items", every: float = 15.0
    ) -> None:
        self.total, self.label, self.log, self.unit, self.every = total, label, log, unit, every
        self.done, self.started, self.last = 0, time.perf_counter(), time.perf_counter()
        self.first: float | None = None  # when the first item was done, and how many were done then
        self.first_count = 0
        self._lock = threading.Lock()

    def step(self, n: int = 1) -> None:
        with self._lock:
            now = time.perf_counter()
            self.done += n
            if self.first is None:
                self.first, self.first_count = now, self.done
            if now - self.last < self.every and self.done < self.total:
                return
            self.last = now
            self.log(self.line(now))

    def line(self, now: float | None = None) -> str:
        now = time.perf_counter() if now is None else now
        if self.first is not None and self.done > self.first_count and now > self.first:
            rate = (self.done - self.first_count) / (now - self.first)
        else:
            rate = self.done / (now - self.started) if now > self.started else 0.0
        left = (
            f"about {(self.total - self.done) / rate:.0f}s left"
            if rate > 0 and self.done < self.total
            else ("done" if self.done >= self.total else "time left: estimating")
        )
        return f"{self.label}: {self.done}/{self.total} {self.unit} ({now - self.started:.0f}s, {left})"
