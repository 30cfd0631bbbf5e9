"""How the project runs a browser: Debian's Chromium, headless, with no network of its own.

Chromium's background services try to reach hosts this machine cannot reach; these flags
keep it to the pages it is pointed at (tests and benchmarks on loopback only).
"""

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
