"""Which Chromium the pipeline drives, and why it cannot run here.

Shared by the browser uploader (publish/browser.py, through Playwright) and the Remotion adapter
(renders/remotion.py, `--browser-executable`): both use the system Chromium, never a downloaded one, so
one place says where it is. Nothing is imported or launched here.
"""

from __future__ import annotations

import os

DEFAULT_CHROMIUM = "/usr/lib/chromium/chromium"  # Debian's chromium package
CHROMIUM_ENV = "ACTP_CHROMIUM"
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic")


def default_chromium() -> str:
    """The Chromium binary to drive: $ACTP_CHROMIUM, else Debian's."""
    return os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM


def chromium_problem(executable_path: str | None = None) -> str | None:
    """Why the browser uploader cannot run here (no Chromium binary, no playwright package), or None."""
    path = executable_path or default_chromium()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        return f"no Chromium executable at {path} (install Debian's chromium or set ${CHROMIUM_ENV})"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install 'playwright>=1.40')"
    return None
