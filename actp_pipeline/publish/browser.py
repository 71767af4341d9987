"""Publishing through a platform's web upload page: Playwright driving Debian's Chromium.

`BrowserPublisher` implements the `Publisher` protocol of actp_pipeline.publish.platforms the way a person would
post: it opens the upload page (logging in first when the stored session is missing or expired), attaches
the video, fills caption, hashtags, platform, account, the client reference (our idempotency key) and the
optional go-live time, submits, and reads the post id, URL and go-live time from the confirmation page.
The sandbox serves such a site under /web/ (actp_pipeline/sandbox/web.py); the element ids used here are
the class attributes below, so another site with the same flow needs only a subclass.

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

`find_post(key)` delegates to `lookup.find_post` when a lookup is given (an HttpPlatform: a post lookup is
an API call); without one it reads the site's post list, GET /web/posts?idempotency_key=<key>, in the
browser (li.post elements with data-post-id, data-url, data-live-at, data-status, data-idempotency-key).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import json
import logging
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Protocol
from urllib.parse import quote, urlsplit

from actp_pipeline.publish.platforms import AmbiguousOutcome, PlatformError

log = logging.getLogger(__name__)

DEFAULT_CHROMIUM = "/usr/lib/chromium/chromium"  # Debian's chromium package
CHROMIUM_ENV = "ACTP_CHROMIUM"
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic")
USER_ENV, PASSWORD_ENV = "ACTP_BROWSER_USER", "ACTP_BROWSER_PASSWORD"


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


class PostLookup(Protocol):
    def find_post(self, idempotency_key: str) -> dict[str, Any] | None: ...


class _SessionLost(Exception):
    """The site sent a submitted form back to its login page: nothing was posted."""


@dataclass
class _Slot:
    context: Any  # playwright BrowserContext
    browser: Any  # the Browser it belongs to
    state_mtime: float | None  # mtime of the stored session it started from


def _safe_name(key: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("._") or "post"
    return name[:80]


def _iso_utc(t: dt.datetime) -> str:
    """A naive time is UTC (the store's convention)."""
    return (t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)).isoformat()


class BrowserPublisher:
    """Publisher that posts through the site's web upload form in headless Chromium (see the module doc)."""

    LOGIN_PATH = "/web/login"
    UPLOAD_PATH = "/web/upload"
    POSTS_PATH = "/web/posts"
    SUBMIT = "#submit"
    ERROR = "#error"

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
    ):
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        if not username or not password:
            raise ValueError(f"the browser uploader needs a username and a password (${USER_ENV}, ${PASSWORD_ENV})")
        self.base_url = base_url.rstrip("/")
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
        self._idle: list[_Slot] = []
        self._slots: asyncio.Semaphore | None = None
        self._launch_lock: asyncio.Lock | None = None

    @classmethod
    def from_env(cls, base_url: str, **kw: Any) -> BrowserPublisher:
        """A publisher logging in with $ACTP_BROWSER_USER / $ACTP_BROWSER_PASSWORD (the production way)."""
        return cls(base_url, os.environ.get(USER_ENV, ""), os.environ.get(PASSWORD_ENV, ""), **kw)

    def __repr__(self) -> str:
        return f"BrowserPublisher({self.base_url!r}, user={self.username!r}, pool_size={self.pool_size})"

    # ------------------------------------------------------------------------------- public API
    def publish(self, *, media_path: Path, platform: str, account: str, caption: str, hashtags: list[str],
                scheduled_at: dt.datetime | None, idempotency_key: str) -> dict[str, Any]:
        """Post the video through the upload form; returns post_id, url, live_at, status and the key."""
        media_path = Path(media_path)
        if not media_path.is_file():
            raise PlatformError(f"{media_path} is not a file", retryable=False)
        bad = [t for t in hashtags if not t or any(c.isspace() for c in t)]
        if bad:
            raise PlatformError(f"hashtags must be single words for the upload form: {bad!r}", retryable=False)
        job = {"media_path": media_path.resolve(), "platform": platform, "account": account, "caption": caption,
               "hashtags": list(hashtags), "scheduled_at": scheduled_at, "key": idempotency_key}
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
        except Exception as e:  # noqa: BLE001 - closing must not fail the caller
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
            from playwright.async_api import async_playwright  # here: nothing slow at import time

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
    async def _context(self, started: threading.Event) -> AsyncIterator[_Slot]:
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
                context = await browser.new_context(storage_state=state, accept_downloads=False,
                                                    viewport={"width": 1280, "height": 900})
                context.set_default_timeout(self.timeout_s * 1000)
                context.set_default_navigation_timeout(self.timeout_s * 1000)
                slot = _Slot(context, browser, mtime)
            try:
                yield slot
            finally:
                if browser.is_connected():
                    self._idle.append(slot)

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

    async def _save_state(self, slot: _Slot) -> None:
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

    async def _login(self, page: Any, slot: _Slot) -> None:
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

    async def _open(self, page: Any, slot: _Slot, path_and_query: str) -> None:
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
                        return await self._publish_once(page, slot, job, sent)
                    except _SessionLost:
                        if attempt == 2:
                            raise PlatformError("the site logged us out while submitting, twice", retryable=True)
                        log.info("session lost while submitting %s; logging in and submitting again", key)
                raise AssertionError("unreachable")
            except Exception as e:  # noqa: BLE001 - classified and re-raised with a screenshot
                raise await self._fail(page, key, e, bool(sent), "upload") from e
            finally:
                with contextlib.suppress(Exception):
                    await page.close()

    async def _publish_once(self, page: Any, slot: _Slot, job: dict[str, Any], sent: list[Any]) -> dict[str, Any]:
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
                raise _SessionLost()
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

    async def _find_post(self, key: str, started: threading.Event) -> dict[str, Any] | None:
        async with self._context(started) as slot:
            page = await slot.context.new_page()
            try:
                await self._open(page, slot, f"{self.POSTS_PATH}?idempotency_key={quote(key, safe='')}")
                items = await page.eval_on_selector_all("li.post", "els => els.map(e => Object.assign({}, e.dataset))")
                for item in items:
                    if item.get("idempotencyKey") == key:
                        return {"post_id": item.get("postId"), "url": item.get("url"), "live_at": item.get("liveAt"),
                                "status": item.get("status"), "idempotency_key": key}
                return None
            except Exception as e:  # noqa: BLE001
                raise await self._fail(page, key, e, False, "post lookup") from e
            finally:
                with contextlib.suppress(Exception):
                    await page.close()
