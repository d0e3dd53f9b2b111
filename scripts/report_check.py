"""Check a standalone HTML report in headless Chromium and keep a picture of it.

    .venv/bin/python scripts/report_check.py REPORT.html [--out docs/report-html.png] [--width 1400]

Opens the page at the given width (DevTools protocol, as ``ui_screenshot.py`` does), measures whether it
scrolls sideways (document wider than the window) and lists headings that appear more than once, saves a
full-page PNG and prints the findings as JSON. Exit status 1 when the page scrolls sideways or repeats a
heading.
"""

import argparse
import asyncio
import base64
import json
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ui_screenshot import _free_port, _stop, _wait_until_up, devtools_caller, find_chromium

MEASURE = """
(() => {
  const headings = [...document.querySelectorAll('h1, h2, h3')].map(h => h.tagName + ' ' + h.textContent.trim());
  const seen = {}, duplicated = [];
  headings.forEach(h => { seen[h] = (seen[h] || 0) + 1; if (seen[h] === 2) duplicated.push(h); });
  return {scroll_width: document.documentElement.scrollWidth, window_width: document.documentElement.clientWidth,
          page_height: document.documentElement.scrollHeight,
          headings: headings, duplicated_headings: [...new Set(duplicated)],
          tables: document.querySelectorAll('table').length,
          details: document.querySelectorAll('details').length};
})()
"""


async def _measure(ws_url: str, url: str, out: Path | None, width: int, height: int, max_height: int) -> dict:
    import websockets

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
        await asyncio.sleep(2)
        result = await call("Runtime.evaluate", expression=MEASURE, returnByValue=True)
        found = result.get("result", {}).get("value") or {}
        if out is not None:
            shot = await call(
                "Page.captureScreenshot",
                format="png",
                captureBeyondViewport=True,
                clip={
                    "x": 0,
                    "y": 0,
                    "width": width,
                    "height": min(found.get("page_height", height), max_height),
                    "scale": 1,
                },
            )
            out.write_bytes(base64.b64decode(shot["data"]))
        return found


def check_page(
    html_path: Path,
    out: Path | None = None,
    width: int = 1400,
    height: int = 1000,
    chromium: str | None = None,
    max_height: int = 4000,
) -> dict:
    """Measurements of ``html_path`` at ``width`` px: scroll_width, window_width, headings, duplicated_headings."""
    chromium = chromium or find_chromium()
    if not chromium:
        raise FileNotFoundError("Chromium not found: apt-get install -y chromium")
    port = _free_port()
    with tempfile.TemporaryDirectory() as profile:
        browser = subprocess.Popen(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
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
                _measure(
                    page["webSocketDebuggerUrl"], html_path.resolve().as_uri(), out, width, height, max_height
                )
            )
        finally:
            _stop(browser)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("html", type=Path)
    parser.add_argument("--out", type=Path, help="save a PNG of the page here")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--max-height", type=int, default=4000, help="crop the picture to this many pixels")
    args = parser.parse_args()
    found = check_page(args.html, args.out, args.width, max_height=args.max_height)
    print(json.dumps({k: v for k, v in found.items() if k != "headings"}, indent=1))
    return 0 if found["scroll_width"] <= found["window_width"] and not found["duplicated_headings"] else 1


if __name__ == "__main__":
    sys.exit(main())
