"""Regenerate docs/report.png: the top of the demo's report.html in the distribution's Chromium.

    evalkit compare base ft            # in an empty folder: the demo, writes evalkit-runs/latest
    python benchmarks/report_screenshot.py evalkit-runs/latest/report.html docs/report.png

Uses Debian's chromium (``apt-get install chromium``) through Playwright; nothing is
downloaded (never ``playwright install``). The page is offline, so no network is needed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", type=Path, help="a report.html")
    parser.add_argument("png", type=Path, help="where to write the screenshot")
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=1500, help="how much of the page's top to keep")
    args = parser.parse_args()
    exe = shutil.which("chromium")
    if exe is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as home, sync_playwright() as p:
        os.environ["HOME"] = home  # Chromium writes its profile there, not in the user's home
        browser = p.chromium.launch(executable_path=exe, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"])
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        page.goto(args.report.resolve().as_uri())
        page.wait_for_load_state("load")
        page.screenshot(path=str(args.png), full_page=False)
        browser.close()
    print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
