"""Screenshot of the web console's release page, for the README (docs/console.png).

Usage (a SYNTHGATE_HOME with the demo's release, and a user with a console password)::

    SYNTHGATE_HOME=.synthgate .venv/bin/python scripts/console_screenshot.py \\
        --user carol --password-stdin --out docs/console.png < password.txt

It starts the console on a free local port, signs in with Chromium
(Playwright), opens the newest release and saves a screenshot.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
from pathlib import Path

import uvicorn
from playwright.sync_api import expect, sync_playwright

from synthgate.reporting import CHROMIUM_ARGS, find_chromium
from synthgate.settings import Settings
from synthgate.store import Store
from synthgate.web import create_app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--user", required=True)
    parser.add_argument("--password-stdin", action="store_true", required=True)
    parser.add_argument("--out", type=Path, default=Path("docs/console.png"))
    args = parser.parse_args()
    password = sys.stdin.readline().rstrip("\r\n")
    chromium = find_chromium()
    if chromium is None:
        print("error: Chromium is needed (apt-get install chromium)", file=sys.stderr)
        return 1
    store = Store(Settings.from_env().store_url)
    release = store.list_releases(limit=1)
    if not release:
        print("error: the store has no release; run: synthgate demo", file=sys.stderr)
        return 1
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(store), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            print("error: the console did not start", file=sys.stderr)
            return 1
        thread.join(0.05)
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(f"{base}/login")
            page.fill("input[name=username]", args.user)
            page.fill("input[name=password]", password)
            page.click("form#login button[type=submit]")
            expect(page.locator("#whoami")).to_contain_text(args.user)
            page.goto(f"{base}/releases/{release[0].id}")
            expect(page.frame_locator("iframe.report").locator("h1")).to_be_visible()
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out))
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
