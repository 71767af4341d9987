"""The upload site's pages, step by step: log in, open a page, send the post, read the confirmation, and
turn any failure into a classified error with a screenshot.

`UploadPages` is the half of `BrowserPublisher` (publish/browser.py) that talks to the site; the other
half owns the Playwright thread and the context pool. What differs between sites (paths, selectors and
the steps of one upload page) is the site's page object, `self.site` (publish/browser_sites/: the generic
sandbox form, TikTok Studio, YouTube Studio, Instagram); this class is the machinery they run on.

Sessions
--------
`storage_state_path` is the stored session: new contexts start from it when it exists, and after every
login the context's state (cookies) is written there atomically with mode 0600. A context that lands on
the login page first picks up a newer stored session written by another context, and logs in only if that
does not help. Credentials are passed in by the caller (ACTP_BROWSER_USER / ACTP_BROWSER_PASSWORD in
production) and never written anywhere but the site's login form.

Failures
--------
Every failure in the browser saves a full-page screenshot (`<screenshot_dir>/<key>-<UTC time>.png`) and
raises PlatformError with the screenshot path in the message (and in `.screenshot_path`):
- before the post is sent nothing can have been posted: PlatformError (retryable unless the site refused
  the login, the video, or the arguments are wrong);
- the site answered the post with a 4xx and said why (the generic form's #error page, a studio page's
  role="alert"): a definite refusal, not retryable (a non-MP4 file, an unknown account); it is not
  ambiguous, because the site said no;
- the site sent the post back to its login page (session expired meanwhile): nothing was posted; the
  uploader logs in and posts once more;
- anything else after the click that posts (network error, timeout, 5xx, an unexpected page, a
  confirmation that does not show our post) raises AmbiguousOutcome: the post may exist, and the worker
  reconciles with `find_post` before it ever uploads again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from actp_pipeline.publish.browser_sites import SitePage
from actp_pipeline.publish.browser_sites.base import SessionLost
from actp_pipeline.publish.publisher import AmbiguousOutcome, PlatformError

__all__ = ["SessionLost", "Slot", "UploadPages"]

log = logging.getLogger("actp_pipeline.publish.browser")  # one logger for the whole uploader


@dataclass
class Slot:
    """A browser context of the pool, and the stored session it started from."""

    context: Any  # playwright BrowserContext
    browser: Any  # the Browser it belongs to
    state_mtime: float | None  # mtime of the stored session it started from


def _safe_name(key: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("._") or "post"
    return name[:80]


class UploadPages:
    """The page machinery of the browser uploader; `BrowserPublisher` supplies the attributes annotated here."""

    site: SitePage
    base_url: str
    username: str
    _password: str
    storage_state_path: Path | None
    screenshot_dir: Path
    timeout_s: float
    submit_timeout_s: float
    logins: int

    # -------------------------------------------------------------------------------- stored session
    def _read_state(self) -> tuple[dict[str, Any] | None, float | None]:
        path = self.storage_state_path
        if path is None or not path.is_file():
            return None, None
        try:
            mtime = path.stat().st_mtime
            state = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(state, dict) or not isinstance(state.get("cookies"), list):
                raise ValueError("not a Playwright storage state")
            return state, mtime
        except (OSError, ValueError) as e:
            log.warning("ignoring the stored browser session %s: %s", path, e)
            return None, None

    async def _save_state(self, slot: Slot) -> None:
        path = self.storage_state_path
        if path is None:
            return
        state = await slot.context.storage_state()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=str(path.parent))
        try:
            os.fchmod(fd, 0o600)  # session cookies are credentials
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(state, fh)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        slot.state_mtime = path.stat().st_mtime

    # --------------------------------------------------------------------------------- page helpers
    def _url(self, path: str) -> str:
        return self.base_url + path

    @staticmethod
    def _path(url: str) -> str:
        return urlsplit(url).path.rstrip("/") or "/"

    async def _error_text(self, page: Any, selector: str, wait_s: float = 5.0) -> str:
        """The site's error message (`selector`), waiting briefly for it to appear."""
        loc = page.locator(selector).first
        try:
            await loc.wait_for(state="attached", timeout=min(wait_s, self.timeout_s) * 1000)
            text = " ".join((await loc.inner_text()).split())
            if text:
                return text
        except Exception:  # noqa: BLE001 - a page without the error element: say what it is instead
            pass
        return f"no error message on the page {self._path(page.url)!r} ({await page.title()!r})"

    async def _submit(self, page: Any, click: str, action_path: str, sent: list[Any], timeout_s: float) -> Any:
        """Click `click` (a selector) and return the response to the POST it sends to `action_path` (None if
        the request failed).

        `sent` gets the POST request as soon as the browser issues it: from then on the outcome of a
        side-effecting form is uncertain until the site answers.
        """
        def is_post(request: Any) -> bool:
            return request.method == "POST" and self._path(request.url) == action_path

        def on_request(request: Any) -> None:
            if is_post(request):
                sent.append(request)

        page.on("request", on_request)
        try:
            async with page.expect_request(is_post, timeout=self.timeout_s * 1000) as info:
                await page.locator(click).first.click(no_wait_after=True)
            request = await info.value
            return await asyncio.wait_for(request.response(), timeout_s)
        finally:
            page.remove_listener("request", on_request)

    async def _settle(self, page: Any, want_url: Callable[[str], bool]) -> None:
        """Wait until the page has followed the redirect to a URL `want_url` accepts, and loaded."""
        await page.wait_for_url(want_url, timeout=self.timeout_s * 1000, wait_until="load")

    def _on_login(self, url: str) -> bool:
        return self.site.is_login(self.base_url, url)

    async def _login(self, page: Any, slot: Slot) -> None:
        if not self._on_login(page.url):
            await page.goto(self.site.url(self.base_url, "login"))
        response = await self.site.log_in(self, page)
        if response is None:
            raise PlatformError("the login request failed (no response)", retryable=True)
        if response.status >= 400:
            text = await self._error_text(page, self.site.sel("alert"))
            raise PlatformError(f"login as {self.username!r} failed: HTTP {response.status}: {text}",
                                status=response.status, retryable=response.status >= 500 or response.status == 429)
        await self._settle(page, lambda url: not self._on_login(url))
        self.logins += 1
        await self._save_state(slot)

    async def _open(self, page: Any, slot: Slot, target: str) -> None:
        """Load a page of the site (a URL) that needs a session, logging in when the site asks for it."""
        response = await page.goto(target)
        if self._on_login(page.url):
            state, mtime = self._read_state()
            if state is not None and mtime != slot.state_mtime:  # another context logged in meanwhile
                await slot.context.add_cookies(state["cookies"])
                slot.state_mtime = mtime
                response = await page.goto(target)
            if self._on_login(page.url):
                await self._login(page, slot)
                response = await page.goto(target)
                if self._on_login(page.url):
                    raise PlatformError("the site asks to log in again right after a successful login",
                                        retryable=True)
        if response is not None and response.status >= 400:
            text = await self._error_text(page, self.site.sel("alert"), wait_s=0.5)
            where = target[len(self.base_url):] if target.startswith(self.base_url) else target
            raise PlatformError(f"GET {where} -> HTTP {response.status}: {text}", status=response.status,
                                retryable=response.status >= 500 or response.status == 429)

    async def _screenshot(self, page: Any, key: str) -> Path | None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.screenshot_dir / f"{_safe_name(key)}-{stamp}.png"
        try:
            self.screenshot_dir.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(path), full_page=True, timeout=10_000)
            return path
        except Exception as e:  # noqa: BLE001 - the original failure matters more
            log.warning("no screenshot of the failed upload %s: %s", key, e)
            return None

    async def _fail(self, page: Any, key: str, exc: BaseException, sent: bool, action: str) -> PlatformError:
        """The error to raise for a failed job: a screenshot taken, the outcome classified."""
        shot = await self._screenshot(page, key)
        where = f"(screenshot: {shot})" if shot else "(no screenshot could be taken)"
        if isinstance(exc, PlatformError):
            cls, status, retryable = type(exc), exc.status, exc.retryable
            text = str(exc)
        else:  # a Playwright error or timeout
            cls = AmbiguousOutcome if sent else PlatformError
            status, retryable = None, True
            text = f"{type(exc).__name__}: {' '.join(str(exc).split())[:500]}"
            if sent:
                text = f"after submitting the form: {text}; the post may exist"
        err = cls(f"browser {action} of {key!r} at {self.base_url}: {text} {where}", status=status, retryable=retryable)
        err.screenshot_path = shot  # type: ignore[attr-defined]
        return err
