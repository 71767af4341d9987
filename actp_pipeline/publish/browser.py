"""Publishing through a platform's web upload page: Playwright driving Debian's Chromium.

`BrowserPublisher` implements the `Publisher` protocol (actp_pipeline.publish.publisher) the way a person would
post: it opens the upload page (logging in first when the stored session is missing or expired), attaches
the video, fills caption, hashtags, platform, account, the client reference (our idempotency key) and the
optional go-live time, submits, and reads the post id, URL and go-live time from the confirmation page.
Which site: `site` names a page object of publish/browser_sites/ ("generic", the default: the sandbox's
own form under /web/, actp_pipeline/sandbox/routes/web.py; "tiktok", "youtube", "instagram": TikTok
Studio, YouTube Studio and Instagram's create flow, with the sandbox's copies of those pages under /web/;
add "-live" for the real sites' addresses). The page steps, the stored session and the failure rules live
in browser_pages.py (`UploadPages`) and the site's page object; this module runs them.

Threading
---------
Playwright objects are not thread-safe, and the publish worker may call from several threads. One daemon
thread owns everything Playwright: it runs an asyncio loop with Playwright's async API, one Chromium and a
pool of at most `pool_size` browser contexts (default 3). `publish()` and `find_post()` may be called from
any thread: they submit a coroutine to that loop and block on its result. Each job takes a context from the
pool for its whole run (an asyncio semaphore bounds them), so up to `pool_size` uploads run concurrently
and no two jobs ever share a page or a context. Contexts are kept between jobs (with their cookies); a
crashed browser is relaunched and its contexts dropped. The thread starts on first use, not at import or
construction, and `close()` (or leaving a `with` block) shuts it down.

`find_post(key)` delegates to `lookup.find_post` when a lookup is given (a post lookup is an API call: for a
platform's site that platform's API adapter, which finds the post by the reference marker the page object
puts into it); without one it reads the site's list of posts in the
browser (the generic site: GET /web/posts?idempotency_key=<key>; a platform's site: its content list, for
the marker). The real sites keep no idempotency key, so for them `publish` first looks the key up and
returns the post it finds instead of posting again.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

from actp_pipeline.chromium import CHROMIUM_ARGS, chromium_problem, default_chromium
from actp_pipeline.publish.browser_pages import SessionLost, Slot, UploadPages
from actp_pipeline.publish.browser_sites import SitePage, site_for
from actp_pipeline.publish.publisher import (
    AmbiguousOutcome,
    BeforeSend,
    PlatformError,
    PostLookup,
    SendRefused,
)

log = logging.getLogger(__name__)

USER_ENV, PASSWORD_ENV = "ACTP_BROWSER_USER", "ACTP_BROWSER_PASSWORD"


class BrowserPublisher(UploadPages):
    """Publisher that posts through the site's web upload form in headless Chromium (see the module doc)."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        storage_state_path: Path | str | None = None,
        pool_size: int = 3,
        screenshot_dir: Path | str | None = None,
        headless: bool = True,
        executable_path: str | None = None,
        timeout_s: float = 30.0,
        submit_timeout_s: float = 300.0,
        launch_timeout_s: float = 60.0,
        lookup: PostLookup | None = None,
        site: str | SitePage = "generic",
        account: str | None = None,
    ):
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        if not username or not password:
            raise ValueError(f"the browser uploader needs a username and a password (${USER_ENV}, ${PASSWORD_ENV})")
        self.base_url = base_url.rstrip("/")
        self.site = site_for(site)
        self.account = account  # whose posts find_post searches on a platform's site (default: the last posted)
        self.username = username
        self._password = password
        self.storage_state_path = Path(storage_state_path) if storage_state_path is not None else None
        self.pool_size = int(pool_size)
        self.screenshot_dir = Path(screenshot_dir) if screenshot_dir is not None else \
            Path(tempfile.gettempdir()) / "actp-upload-screenshots"
        self.headless = headless
        self.executable_path = executable_path or default_chromium()
        self.timeout_s = float(timeout_s)
        self.submit_timeout_s = float(submit_timeout_s)
        self.launch_timeout_s = float(launch_timeout_s)
        self.lookup = lookup
        self.logins = 0  # logins this publisher performed (the stored session spares the others)
        self._start_lock = threading.Lock()
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        # owned by the loop thread only
        self._pw: Any = None
        self._browser: Any = None
        self._idle: list[Slot] = []
        self._slots: asyncio.Semaphore | None = None
        self._launch_lock: asyncio.Lock | None = None

    @classmethod
    def from_env(cls, base_url: str, **kw: Any) -> BrowserPublisher:
        """A publisher logging in with $ACTP_BROWSER_USER / $ACTP_BROWSER_PASSWORD (the production way)."""
        return cls(base_url, os.environ.get(USER_ENV, ""), os.environ.get(PASSWORD_ENV, ""), **kw)

    def __repr__(self) -> str:
        return (f"BrowserPublisher({self.base_url!r}, site={self.site.name!r}, user={self.username!r}, "
                f"pool_size={self.pool_size})")

    # ------------------------------------------------------------------------------- public API
    def publish(self, *, media_path: Path, platform: str, account: str, caption: str, hashtags: list[str],
                scheduled_at: dt.datetime | None, idempotency_key: str,
                before_send: BeforeSend | None = None) -> dict[str, Any]:
        """Post the video through the upload form; returns post_id, url, live_at, status and the key.
        `before_send` runs (off the browser's loop) once the form is filled, right before it is submitted."""
        media_path = Path(media_path)
        if not media_path.is_file():
            raise PlatformError(f"{media_path} is not a file", retryable=False)
        bad = [t for t in hashtags if not t or any(c.isspace() for c in t)]
        if bad:
            raise PlatformError(f"hashtags must be single words for the upload form: {bad!r}", retryable=False)
        if self.site.platform is not None and platform != self.site.platform:
            raise PlatformError(f"the {self.site.name} site posts to {self.site.platform}, not {platform!r}",
                                retryable=False, sent=False)
        self.account = self.account or account
        if not self.site.keeps_key:  # the real sites keep no key: a post already made for it is the answer
            found = self.find_post(idempotency_key)
            if found is not None:
                return found
        job = {"media_path": media_path.resolve(), "platform": platform, "account": account, "caption": caption,
               "hashtags": list(hashtags), "scheduled_at": scheduled_at, "key": idempotency_key,
               "before_send": before_send}
        budget = self.launch_timeout_s + 2 * (self.submit_timeout_s + 6 * self.timeout_s)
        return self._call(lambda started: self._publish(job, started), budget, idempotency_key, side_effect=True)

    def find_post(self, idempotency_key: str) -> dict[str, Any] | None:
        """The post made with this key, or None: through `lookup` when given, else the site's post list."""
        if self.lookup is not None:
            return self.lookup.find_post(idempotency_key)
        budget = self.launch_timeout_s + 6 * self.timeout_s
        return self._call(lambda started: self._find_post(idempotency_key, started), budget, idempotency_key,
                          side_effect=False)

    def close(self) -> None:
        with self._start_lock:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=30)
        except Exception as e:
            log.warning("closing the browser uploader: %s", e)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)

    def __enter__(self) -> BrowserPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------------------- the loop thread
    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._start_lock:
            if self._closed:
                raise PlatformError("the browser uploader is closed", retryable=True)
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    try:
                        loop.run_forever()
                    finally:
                        pending = asyncio.all_tasks(loop)
                        for task in pending:
                            task.cancel()
                        if pending:
                            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                        loop.close()

                thread = threading.Thread(target=run, name="actp-browser-upload", daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def _call(self, make: Callable[[threading.Event], Awaitable[Any]], budget_s: float, key: str, *,
              side_effect: bool) -> Any:
        """Run a job on the loop thread and wait for it; the budget starts once the job has a context."""
        loop = self._ensure_loop()
        started = threading.Event()
        fut = asyncio.run_coroutine_threadsafe(make(started), loop)  # type: ignore[arg-type]
        while not started.wait(0.2):  # queued behind other jobs: not part of the budget
            if fut.done() or not (self._thread and self._thread.is_alive()):
                break
        try:
            return fut.result(timeout=budget_s)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            cls = AmbiguousOutcome if side_effect else PlatformError
            raise cls(f"browser job for {key!r} did not finish within {budget_s:.0f}s", retryable=True) from None
        except concurrent.futures.CancelledError:
            raise PlatformError(f"browser job for {key!r} was cancelled (uploader closing)", retryable=True) from None

    async def _shutdown(self) -> None:
        for slot in self._idle:
            with contextlib.suppress(Exception):
                await slot.context.close()
        self._idle.clear()
        if self._browser is not None:
            with contextlib.suppress(Exception):
                await self._browser.close()
            self._browser = None
        if self._pw is not None:
            with contextlib.suppress(Exception):
                await self._pw.stop()
            self._pw = None

    async def _browser_ready(self) -> Any:
        if self._launch_lock is None:
            self._launch_lock = asyncio.Lock()
        async with self._launch_lock:
            if self._closed:  # a job that waited for a context while close() ran: launch nothing new
                raise PlatformError("the browser uploader is closed", retryable=True)
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            self._browser = None
            problem = chromium_problem(self.executable_path)
            if problem is not None:
                raise PlatformError(f"cannot start the browser uploader: {problem}", retryable=True)
            from playwright.async_api import (
                async_playwright,  # here: nothing slow at import time
            )

            if self._pw is None:
                self._pw = await async_playwright().start()
            try:
                self._browser = await self._pw.chromium.launch(
                    executable_path=self.executable_path, headless=self.headless, args=list(CHROMIUM_ARGS),
                    timeout=self.launch_timeout_s * 1000)
            except Exception as e:
                raise PlatformError(f"cannot launch Chromium at {self.executable_path}: {e}", retryable=True) from e
            return self._browser

    @contextlib.asynccontextmanager
    async def _context(self, started: threading.Event) -> AsyncIterator[Slot]:
        """A browser context of the pool, for the whole of one job."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.pool_size)
        async with self._slots:
            started.set()
            browser = await self._browser_ready()
            slot = None
            while self._idle and slot is None:
                candidate = self._idle.pop()
                if candidate.browser is browser:
                    slot = candidate
            if slot is None:
                state, mtime = self._read_state()
                context = await browser.new_context(storage_state=state, accept_downloads=False, timezone_id="UTC",
                                                    viewport={"width": 1280, "height": 900})
                context.set_default_timeout(self.timeout_s * 1000)
                context.set_default_navigation_timeout(self.timeout_s * 1000)
                slot = Slot(context, browser, mtime)
            try:
                yield slot
            finally:
                if browser.is_connected():
                    self._idle.append(slot)

    # ------------------------------------------------------------------------------------- the jobs
    async def _publish(self, job: dict[str, Any], started: threading.Event) -> dict[str, Any]:
        key = job["key"]
        async with self._context(started) as slot:
            page = await slot.context.new_page()
            sent: list[Any] = []
            try:
                for attempt in (1, 2):
                    sent.clear()
                    try:
                        return await self.site.publish_once(self, page, slot, job, sent)
                    except SessionLost:
                        if attempt == 2:
                            raise PlatformError("the site logged us out while submitting, twice", retryable=True)
                        log.info("session lost while submitting %s; logging in and submitting again", key)
                raise AssertionError("unreachable")
            except SendRefused:  # nothing was submitted: no screenshot, no reclassification
                raise
            except Exception as e:
                raise await self._fail(page, key, e, bool(sent), "upload") from e
            finally:
                with contextlib.suppress(Exception):
                    await page.close()

    async def _find_post(self, key: str, started: threading.Event) -> dict[str, Any] | None:
        async with self._context(started) as slot:
            page = await slot.context.new_page()
            try:
                return await self.site.find_post(self, page, slot, key, self.account or "")
            except Exception as e:
                raise await self._fail(page, key, e, False, "post lookup") from e
            finally:
                with contextlib.suppress(Exception):
                    await page.close()
