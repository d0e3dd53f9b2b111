"""A circuit breaker for one remote API, optionally kept in a JSON file so separate run processes share it.

closed → (``threshold`` consecutive failed attempts) → open: no calls until ``cooldown`` has passed →
half-open: one trial call; success closes it, failure opens it again for another cool-down.

With a state file, every change (a failure counted, a success closing it) is a read-modify-write under an
exclusive ``flock`` on ``<state file>.lock`` beside it, so two processes failing at once never lose a count;
readers need no lock, because the file is replaced whole (``atomic_write_text``).
"""

import fcntl
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from poeconomy_assets.core.files import atomic_write_text

_LOCK = threading.Lock()
_MEMORY: dict[str, "BreakerState"] = {}  # per process, when no state file is configured


@dataclass
class BreakerState:
    consecutive_failures: int = 0
    opened_at: float | None = None  # seconds on the breaker's clock (epoch seconds); None while closed
    last_error: str = ""

    def status(self, now: float, cooldown: float) -> str:
        if self.opened_at is None:
            return "closed"
        return "open" if now < self.opened_at + cooldown else "half-open"


class CircuitOpenError(RuntimeError):
    """Raised instead of calling while the breaker is open."""


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        threshold: int,
        cooldown_seconds: float,
        state_path: str | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.name, self.threshold, self.cooldown = name, threshold, cooldown_seconds
        self.path = Path(state_path) if state_path else None
        self.clock = clock

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold the change lock: this process's threads (``_LOCK``) and, with a state file, every process."""
        with _LOCK:
            if self.path is None:
                yield
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed, even if we are killed
                yield

    def _load(self) -> BreakerState:
        if self.path is None:
            return _MEMORY.setdefault(self.name, BreakerState())
        try:
            return BreakerState(**json.loads(self.path.read_text()).get(self.name, {}))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return BreakerState()

    def _save(self, state: BreakerState) -> None:
        if self.path is None:
            _MEMORY[self.name] = state
            return
        try:
            everything = json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            everything = {}
        everything[self.name] = asdict(state)
        atomic_write_text(self.path, json.dumps(everything))

    def state(self) -> BreakerState:
        with _LOCK:
            return self._load()

    def status(self) -> str:
        return self.state().status(self.clock(), self.cooldown)

    def before_call(self) -> str:
        """The status a call is made in; raises CircuitOpenError while open."""
        state = self.state()
        status = state.status(self.clock(), self.cooldown)
        if status == "open":
            assert state.opened_at is not None
            raise CircuitOpenError(
                f"circuit breaker for {self.name} is open after {state.consecutive_failures} consecutive failures "
                f"(last: {state.last_error}); no call until {self.cooldown - (self.clock() - state.opened_at):.0f} s "
                "from now"
            )
        return status

    def record_success(self) -> bool:
        """Close the breaker; returns True when it was open or half-open before."""
        with self._exclusive():
            state = self._load()
            was_open = state.opened_at is not None
            if was_open or state.consecutive_failures:
                self._save(BreakerState())
            return was_open

    def record_failure(self, error: str) -> bool:
        """Count a failed attempt; returns True when this failure opened (or re-opened) the breaker."""
        with self._exclusive():
            state = self._load()
            now = self.clock()
            half_open = state.status(now, self.cooldown) == "half-open"
            state.consecutive_failures += 1
            state.last_error = error[:200]
            opened = half_open or (state.opened_at is None and state.consecutive_failures >= self.threshold)
            if opened:
                state.opened_at = now
            self._save(state)
            return opened
