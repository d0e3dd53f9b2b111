"""The POE Watch API client, the HTTP implementation of ``PriceSource``: polite, patient with transient
failures, and quick to stop when the API is down.

- a descriptive User-Agent, connect/read timeouts, at least ``min_interval_seconds`` between requests;
- retries (``core.ingest.retries``, tenacity) with exponential backoff and jitter on timeouts, connection
  errors, 403, 429, 5xx and bodies that are not JSON (HTML error pages, empty or malformed bodies), waiting at
  least ``Retry-After`` when sent;
- a circuit breaker (``core.ingest.circuit_breaker``) that refuses to call after ``breaker_threshold``
  consecutive failed attempts and lets one trial call through after ``breaker_cooldown_seconds`` (seconds of
  ``breaker_clock``, the settings of a ``LiveClock``; the wall clock when empty). With ``breaker_state_path``
  set, every run process shares it (under a file lock);
- limits against a hostile or broken server: a response body over ``max_body_bytes`` (as sent) or over
  ``max_decompressed_bytes`` (after gzip/deflate; read in small steps, so a 200 KB gzip bomb is refused after
  inflating at most the cap) is refused and not retried; an attempt that has not finished reading its body
  ``request_deadline_seconds`` after it started (a server dripping a byte a second) is cut and retried.
"""

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
import urllib3

from poeconomy_assets.core.ingest import (
    CircuitBreaker,
    Fetched,
    PayloadError,
    RetryPolicy,
    SourceError,
    SourceUnavailable,
    Transient,
    call_with_retries,
    decode_json,
)
from poeconomy_assets.resources.live_clock import LiveClock
from poeconomy_assets.resources.price_source import PriceSource

RETRY_STATUSES = frozenset({403, 429, 500, 502, 503, 504})
DEFAULT_USER_AGENT = (
    "poeconomy-assets/0.1 (Path of Exile currency forecasts; Dagster asset graph; "
    "contact: poeconomy-assets maintainers via the project's issue tracker)"
)
_SPACING_LOCK = threading.Lock()
_LAST_REQUEST: dict[str, float] = {}  # base URL -> monotonic time of the last request from this process

# The names these errors had before sources were pluggable (every source raises the core ones).
PoeWatchError = SourceError
PoeWatchUnavailable = SourceUnavailable


class ResponseTooLarge(SourceError):
    """A body over the client's size caps: refused, never retried."""


class _DeadlineExceeded(Exception):
    pass


class PoeWatchClient(PriceSource):
    """HTTP client for https://api.poe.watch (or the local ``poeconomy serve-api``)."""

    base_url: str = "https://api.poe.watch"
    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 30.0
    max_attempts: int = 4  # these four: core.ingest.retries.RetryPolicy
    backoff_base_seconds: float = 1.0  # attempt n waits about base * 2^(n-1), with jitter
    backoff_max_seconds: float = 60.0
    max_retry_after_seconds: float = 300.0  # a longer Retry-After gives up instead of blocking the pool
    min_interval_seconds: float = 1.0  # the spec's etiquette: at most one request per second
    breaker_threshold: int = 5
    breaker_cooldown_seconds: float = 300.0
    breaker_state_path: str | None = None
    # The clock the cool-down is measured on: a LiveClock's settings as JSON (LiveClock.settings_json; deployments
    # pass the live clock's, so an open breaker holds off for one slot of it however fast or stepped it runs); empty:
    # the wall clock. Settings rather than a nested resource, so sensors built by hand need no resource context.
    breaker_clock: str = ""
    max_body_bytes: int = 16 * 1024 * 1024  # as sent on the wire (a real /get is well under 1 MB)
    max_decompressed_bytes: int = 32 * 1024 * 1024  # after Content-Encoding (gzip/deflate) is undone
    request_deadline_seconds: float = 60.0  # one attempt, from connecting to the last byte of the body

    @property
    def breaker(self) -> CircuitBreaker:
        return CircuitBreaker(
            f"poe_watch {self.base_url}",
            self.breaker_threshold,
            self.breaker_cooldown_seconds,
            self.breaker_state_path,
            clock=self._breaker_time(),
        )

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            self.max_attempts,
            self.backoff_base_seconds,
            self.backoff_max_seconds,
            self.max_retry_after_seconds,
        )

    def location(self) -> str:
        return self.base_url

    def breaker_status(self) -> str:
        return self.breaker.status()

    def refusing_calls(self) -> str | None:
        if self.breaker.status() != "open":
            return None
        return f"circuit breaker open ({self.breaker.state().last_error})"

    def _breaker_time(self) -> Callable[[], float]:
        if not self.breaker_clock:
            return time.time
        clock = LiveClock(**json.loads(self.breaker_clock))
        return lambda: clock.now().timestamp()

    def get_items(self, league: str, category: str, log: Any = None) -> Fetched:
        return self.fetch("/get", {"league": league, "category": category}, log)

    def get_leagues(self, log: Any = None) -> Fetched:
        return self.fetch("/leagues", {}, log)

    def get_history(self, league: str, item_id: int, log: Any = None) -> Fetched:
        return self.fetch("/history", {"league": league, "id": item_id}, log)

    def fetch(self, path: str, params: dict[str, Any], log: Any = None) -> Fetched:
        """GET ``path`` and decode its JSON, retrying transient failures; raises SourceError otherwise."""
        url = self.base_url.rstrip("/") + path

        def attempt() -> Fetched:
            self._wait_for_spacing()
            return self._attempt(url, params)

        return call_with_retries(
            attempt,
            request=f"POE Watch {url} params={params}",
            policy=self.retry_policy,
            breaker=self.breaker,
            log=log,
        )

    def _attempt(self, url: str, params: dict[str, Any]) -> Fetched:
        """One GET: the Fetched on success; Transient for what a retry may fix (with the server's
        Retry-After); SourceError for answers no retry can fix (4xx other than 403/429, a body over a cap)."""
        deadline = time.monotonic() + self.request_deadline_seconds
        try:
            with requests.get(
                url,
                params=params,
                headers={"User-Agent": self.user_agent, "Accept": "application/json"},
                timeout=(
                    self.connect_timeout_seconds,
                    min(self.read_timeout_seconds, self.request_deadline_seconds),
                ),
                stream=True,
            ) as response:
                if response.status_code in RETRY_STATUSES:
                    raise Transient(
                        f"HTTP {response.status_code} {response.reason}",
                        _retry_after(response.headers.get("Retry-After")),
                    )
                body = self._read_body(response, deadline)
        except _DeadlineExceeded:
            raise Transient(
                f"deadline of {self.request_deadline_seconds:g} s passed before the body was read"
            ) from None
        except requests.Timeout as exc:
            raise Transient(f"timeout ({type(exc).__name__})") from exc
        except requests.ConnectionError as exc:
            raise Transient(f"connection error ({type(exc).__name__}: {str(exc)[:100]})") from exc
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:  # e.g. a dropped connection
            raise Transient(f"broken response ({type(exc).__name__}: {str(exc)[:100]})") from exc
        if response.status_code >= 400:
            raise SourceError(
                f"POE Watch {response.url} answered HTTP {response.status_code} {response.reason}: "
                f"{body[:200].decode('utf-8', 'replace')!r} (not retried)"
            )
        try:
            data = decode_json(body, response.headers.get("Content-Type"))
        except PayloadError as exc:
            raise Transient(str(exc)) from exc
        return Fetched(
            url=response.url, body=body, data=data, fetched_at=datetime.now(UTC), attempts=0, seconds=0.0
        )

    def _read_body(self, response: requests.Response, deadline: float) -> bytes:
        """The decoded body, read in small steps under the size caps and the attempt's deadline."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            raise ResponseTooLarge(
                f"POE Watch {response.url}: body exceeds {self.max_body_bytes} bytes "
                f"(Content-Length {declared}); refused"
            )
        raw, parts, size = response.raw, [], 0
        while True:
            if time.monotonic() > deadline:
                raise _DeadlineExceeded()
            # read1 returns what one socket read brings (a dripping server cannot make it wait for a full block)
            # and inflates at most 64 KiB of it (urllib3 >= 2.6 bounds decompression by the amount asked for).
            chunk = raw.read1(64 * 1024, decode_content=True)
            if not chunk:
                break
            size += len(chunk)
            if size > self.max_decompressed_bytes:
                raise ResponseTooLarge(
                    f"POE Watch {response.url}: decompressed body exceeds "
                    f"{self.max_decompressed_bytes} bytes; refused"
                )
            if raw.tell() > self.max_body_bytes:
                raise ResponseTooLarge(
                    f"POE Watch {response.url}: body exceeds {self.max_body_bytes} bytes; refused"
                )
            parts.append(chunk)
        return b"".join(parts)

    def _wait_for_spacing(self) -> None:
        with _SPACING_LOCK:
            last = _LAST_REQUEST.get(self.base_url)
            now = time.monotonic()
            if last is not None and now - last < self.min_interval_seconds:
                time.sleep(self.min_interval_seconds - (now - last))
            _LAST_REQUEST[self.base_url] = time.monotonic()


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None
