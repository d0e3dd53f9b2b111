"""Screenshot of the investment report's page in the Dagster web UI (headless Chromium).

    .venv/bin/python scripts/ui_screenshot.py [--out docs/report.png] [--home DIR] [--leagues 3 --currencies 5]

Without ``--home`` it runs ``poeconomy demo`` on a small simulated market into a temporary
POECONOMY_HOME / DAGSTER_HOME first. Then it starts ``dagster dev`` on 127.0.0.1 (in its own session,
with SIGINT/SIGTERM reset to their defaults, so it can be stopped from a non-interactive shell), opens
the report asset's page for the latest league in headless Chromium, driven over the DevTools protocol
(the UI shows markdown metadata behind a "[Show Markdown]" link: the script clicks the first one,
the forecast fan, so the chart is in the picture), saves the PNG and stops the server.
"""

import argparse
import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _default_signals() -> None:
    # A background shell starts children with SIGINT ignored; dagster dev copies that onto SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _wait_until_up(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise TimeoutError(f"dagster dev did not answer {url} within {seconds:.0f}s")


def _latest_league_key(home: Path) -> str:
    reports = sorted((home / "reports").glob("*.html"), key=lambda p: p.stat().st_mtime)
    if not reports:
        raise SystemExit(f"no report under {home / 'reports'}: materialize investment_report first")
    return reports[-1].stem


FIRST_MARKDOWN_LINK = """
(() => {
  const hits = [...document.querySelectorAll('*')].filter(e => e.textContent.trim() === '[Show Markdown]'
      && ![...e.children].some(c => c.textContent.trim() === '[Show Markdown]'));
  if (!hits.length) return null;
  const r = hits[0].getBoundingClientRect();
  return [r.x + r.width / 2, r.y + r.height / 2];
})()
"""


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def devtools_caller(ws):
    """``await call(method, **params)``: one Chrome DevTools Protocol command over ``ws``, its result."""
    counter = 0

    async def call(method: str, **params: object) -> dict:
        nonlocal counter
        counter += 1
        await ws.send(json.dumps({"id": counter, "method": method, "params": params}))
        while True:
            message = json.loads(await ws.recv())
            if message.get("id") == counter:
                return message.get("result", {})

    return call


async def _devtools_screenshot(
    ws_url: str, url: str, out: Path, width: int, height: int, wait_s: float
) -> bool:
    """Open ``url``, wait for the metadata to render, click the first markdown link, save a PNG.
    Returns whether a chart link was found and opened."""
    import websockets  # installed with dagster-webserver (uvicorn[standard])

    async with websockets.connect(ws_url, max_size=None) as ws:
        call = devtools_caller(ws)

        await call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        await call("Page.enable")
        await call("Page.navigate", url=url)
        deadline = time.monotonic() + wait_s
        clicked = False
        while time.monotonic() < deadline and not clicked:
            await asyncio.sleep(2)
            result = await call("Runtime.evaluate", expression=FIRST_MARKDOWN_LINK, returnByValue=True)
            point = result.get("result", {}).get("value")
            if point:  # a real mouse click: the UI's link reacts to pointer events
                for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
                    await call(
                        "Input.dispatchMouseEvent",
                        type=kind,
                        x=point[0],
                        y=point[1],
                        button="left",
                        clickCount=1,
                    )
                clicked = True
        await asyncio.sleep(4)  # the dialog and its embedded PNG
        shot = await call("Page.captureScreenshot", format="png")
        out.write_bytes(base64.b64decode(shot["data"]))
        return clicked


def _screenshot(chromium: str, url: str, out: Path, width: int, height: int, wait_s: float) -> bool:
    port = _free_port()
    with tempfile.TemporaryDirectory() as profile:
        browser = subprocess.Popen(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--remote-debugging-port={port}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            _wait_until_up(f"http://127.0.0.1:{port}/json/version", 60)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as response:
                page = next(t for t in json.load(response) if t.get("type") == "page")
            return asyncio.run(
                _devtools_screenshot(page["webSocketDebuggerUrl"], url, out, width, height, wait_s)
            )
        finally:
            _stop(browser)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "report.png")
    parser.add_argument(
        "--home", type=Path, help="an existing POECONOMY_HOME whose DAGSTER_HOME is HOME/dagster-home"
    )
    parser.add_argument("--leagues", type=int, default=3)
    parser.add_argument("--currencies", type=int, default=5)
    parser.add_argument("--window", default="1400,1500", help="browser window width,height")
    parser.add_argument("--wait-ms", type=int, default=120000, help="longest wait for the page to render")
    args = parser.parse_args()
    chromium = find_chromium()
    if not chromium:
        raise SystemExit("Chromium not found: apt-get install -y chromium")

    home = (args.home or Path(tempfile.mkdtemp(prefix="poeconomy-ui-"))).resolve()
    dagster_home = home / "dagster-home"
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = (ROOT / "dagster.yaml").read_text().replace(".poeconomy/dagster", str(dagster_home))
    (dagster_home / "dagster.yaml").write_text(config)
    env = {**os.environ, "POECONOMY_HOME": str(home), "DAGSTER_HOME": str(dagster_home)}
    if args.home is None or not (home / "reports").exists():
        print(f"materializing a small simulated market into {home} ...", flush=True)
        subprocess.run(
            [
                str(BIN / "poeconomy"),
                "demo",
                "--leagues",
                str(args.leagues),
                "--currencies",
                str(args.currencies),
            ],
            cwd=ROOT,
            env=env,
            check=True,
        )
    league = _latest_league_key(home)

    port = _free_port()
    with open(home / "dagster-dev.log", "w") as log:
        server = subprocess.Popen(  # preexec_fn: this script starts no threads
            [
                str(BIN / "dagster"),
                "dev",
                "-w",
                str(ROOT / "workspace.yaml"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_default_signals,  # noqa: PLW1509 (this script starts no threads)
        )
        try:
            _wait_until_up(f"http://127.0.0.1:{port}/server_info", 180)
            url = (
                f"http://127.0.0.1:{port}/assets/investment_report?view=partitions&partition="
                f"{urllib.parse.quote(league)}"
            )
            args.out.parent.mkdir(parents=True, exist_ok=True)
            width, height = (int(v) for v in args.window.split(","))
            if not _screenshot(chromium, url, args.out.resolve(), width, height, args.wait_ms / 1000):
                print("warning: no '[Show Markdown]' link found: the PNG shows the page without the chart")
            print(f"{url}\n→ {args.out}")
        finally:
            _stop(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
