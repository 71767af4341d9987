"""The upload site's pages, step by step: log in, open a page, fill and submit the upload form, read the
confirmation, and turn any failure into a classified error with a screenshot.

`UploadPages` is the half of `BrowserPublisher` (publish/browser.py) that talks to the site; the other
half owns the Playwright thread and the context pool. The site's paths and element ids are the class
attributes below, so another site with the same flow needs only a subclass.

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
- before the form is submitted nothing can have been posted: PlatformError (retryable unless the site
  refused the login or the arguments are wrong);
- the site answered the submitted form with an error page (4xx with #error): a definite refusal, not
  retryable (a non-MP4 file, an unknown account); it is not ambiguous, because the site said no;
- the site sent the form back to the login page (session expired meanwhile): nothing was posted; the
  uploader logs in and submits once more;
- anything else after the submit click (network error, timeout, 5xx, an unexpected page, a confirmation
  that does not carry our key) raises AmbiguousOutcome: the post may exist, and the worker reconciles
  with `find_post` before it ever uploads again.
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

from actp_pipeline.publish.publisher import AmbiguousOutcome, PlatformError

log = logging.getLogger("actp_pipeline.publish.browser")  # one logger for the whole uploader


class SessionLost(Exception):
    """The site sent a submitted form back to its login page: nothing was posted."""


@dataclass
class Slot:
    """A browser context of the pool, and the stored session it started from."""

    context: Any  # playwright BrowserContext
    browser: Any  # the Browser it belongs to
    state_mtime: float | None  # mtime of the stored session it started from


def _safe_name(key: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("._") or "post"
    return name[:80]


def _iso_utc(t: dt.datetime) -> str:
    """A naive time is UTC (the store's convention)."""
    return (t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)).isoformat()


class UploadPages:
    """The page steps of the browser uploader; `BrowserPublisher` supplies the attributes annotated here."""

    LOGIN_PATH = "/web/login"
    UPLOAD_PATH = "/web/upload"
    POSTS_PATH = "/web/posts"
    SUBMIT = "#submit"
    ERROR = "#error"

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

    async def _error_text(self, page: Any, wait_s: float = 5.0) -> str:
        """The site's error message (#error), waiting briefly for the error page to replace the form."""
        loc = page.locator(self.ERROR).first
        try:
            await loc.wait_for(state="attached", timeout=min(wait_s, self.timeout_s) * 1000)
            return " ".join((await loc.inner_text()).split())
        except Exception:  # noqa: BLE001 - a page without #error: say what it is instead
            return f"no error message on the page {self._path(page.url)!r} ({await page.title()!r})"

    async def _submit(self, page: Any, action_path: str, sent: list[Any], timeout_s: float) -> Any:
        """Click the form's submit button and return the response to the POST (None if the request failed).

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
                await page.click(self.SUBMIT, no_wait_after=True)
            request = await info.value
            return await asyncio.wait_for(request.response(), timeout_s)
        finally:
            page.remove_listener("request", on_request)

    async def _settle(self, page: Any, want_path: Callable[[str], bool]) -> None:
        """Wait until the page has followed the redirect to a path `want_path` accepts, and loaded."""
        await page.wait_for_url(lambda url: want_path(self._path(url)), timeout=self.timeout_s * 1000,
                                wait_until="load")

    async def _login(self, page: Any, slot: Slot) -> None:
        if self._path(page.url) != self.LOGIN_PATH:
            await page.goto(self._url(self.LOGIN_PATH))
        await page.fill("#username", self.username)
        await page.fill("#password", self._password)
        response = await self._submit(page, self.LOGIN_PATH, [], self.timeout_s)
        if response is None:
            raise PlatformError("the login request failed (no response)", retryable=True)
        if response.status >= 400:
            text = await self._error_text(page)
            raise PlatformError(f"login as {self.username!r} failed: HTTP {response.status}: {text}",
                                status=response.status, retryable=response.status >= 500 or response.status == 429)
        await self._settle(page, lambda p: p != self.LOGIN_PATH)
        self.logins += 1
        await self._save_state(slot)

    async def _open(self, page: Any, slot: Slot, path_and_query: str) -> None:
        """Load a page of the site that needs a session, logging in when the site asks for it."""
        target = self._url(path_and_query)
        response = await page.goto(target)
        if self._path(page.url) == self.LOGIN_PATH:
            state, mtime = self._read_state()
            if state is not None and mtime != slot.state_mtime:  # another context logged in meanwhile
                await slot.context.add_cookies(state["cookies"])
                slot.state_mtime = mtime
                response = await page.goto(target)
            if self._path(page.url) == self.LOGIN_PATH:
                await self._login(page, slot)
                response = await page.goto(target)
                if self._path(page.url) == self.LOGIN_PATH:
                    raise PlatformError("the site asks to log in again right after a successful login",
                                        retryable=True)
        if response is not None and response.status >= 400:
            text = await self._error_text(page, wait_s=0.5)
            raise PlatformError(f"GET {path_and_query} -> HTTP {response.status}: {text}", status=response.status,
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

    # ------------------------------------------------------------------------------- the upload form
    async def _publish_once(self, page: Any, slot: Slot, job: dict[str, Any], sent: list[Any]) -> dict[str, Any]:
        key = job["key"]
        await self._open(page, slot, self.UPLOAD_PATH)
        if not await page.locator("#video").count():
            raise PlatformError(f"{self.UPLOAD_PATH} shows no upload form: {await page.title()!r}", retryable=True)
        for field in ("platform", "account"):
            offered = await page.eval_on_selector_all(f"#{field} option", "els => els.map(e => e.value)")
            if job[field] not in offered:
                raise PlatformError(f"the upload form offers no {field} {job[field]!r} (offers {offered})",
                                    retryable=False)
        await page.set_input_files("#video", str(job["media_path"]))
        await page.fill("#caption", job["caption"])
        await page.fill("#hashtags", " ".join(job["hashtags"]))
        await page.select_option("#platform", job["platform"])
        await page.select_option("#account", job["account"])
        await page.fill("#idempotency_key", key)
        await page.fill("#scheduled_at", _iso_utc(job["scheduled_at"]) if job["scheduled_at"] else "")
        if job.get("before_send") is not None:  # the worker's lease fence and rate stamp (store I/O: off the loop)
            await asyncio.to_thread(job["before_send"])

        response = await self._submit(page, self.UPLOAD_PATH, sent, self.submit_timeout_s)
        if response is None:
            failure = sent[-1].failure if sent else None
            raise AmbiguousOutcome(f"the upload request got no response ({failure or 'unknown error'}); "
                                   "the post may exist", retryable=True)
        status = response.status
        if status in (301, 302, 303, 307, 308):
            location = urlsplit(response.headers.get("location") or "").path
            if location == self.LOGIN_PATH:
                await self._settle(page, lambda p: p == self.LOGIN_PATH)
                raise SessionLost()
            await self._settle(page, lambda p: p.startswith(self.POSTS_PATH + "/"))
            return await self._read_confirmation(page, key)
        if 400 <= status < 500:  # the site refused the post and said why: nothing was posted
            text = await self._error_text(page)
            raise PlatformError(f"the site refused the upload: HTTP {status}: {text}", status=status,
                                retryable=status in (408, 425, 429))
        raise AmbiguousOutcome(f"the upload got HTTP {status}; the post may exist", status=status, retryable=True)

    async def _read_confirmation(self, page: Any, key: str) -> dict[str, Any]:
        async def text(selector: str) -> str:
            return (await page.locator(selector).first.inner_text(timeout=self.timeout_s * 1000)).strip()

        try:
            post = {
                "post_id": await text("#post-id"),
                "url": await page.locator("#post-url").first.get_attribute("href", timeout=self.timeout_s * 1000),
                "live_at": await page.locator("#live-at").first.get_attribute("datetime") or await text("#live-at"),
                "status": await text("#status"),
                "idempotency_key": await text("#idempotency-key"),
            }
        except Exception as e:  # noqa: BLE001
            raise AmbiguousOutcome(f"the confirmation page cannot be read ({e}); the post may exist",
                                   retryable=True) from e
        if post["idempotency_key"] != key or not post["post_id"] or not post["url"]:
            raise AmbiguousOutcome(f"the confirmation page shows another post ({post}); the post may exist",
                                   retryable=True)
        return post

