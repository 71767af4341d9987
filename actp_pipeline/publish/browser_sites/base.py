"""What every upload site's page object has, and the steps the three studio sites share.

A page object (`SitePage`) knows one site: where its pages are (`Paths`, the live site's and the
sandbox's copy), its selectors (one `SELECTORS` table per site module, so fixing a selector is one edit)
and its steps: log in, fill and send the post, read the confirmation, find a post by its key. The
machinery the steps run on (stored sessions, opening a page and logging in when sent to the login page,
the submit-and-classify rules, screenshots) is `UploadPages` in publish/browser_pages.py, passed in as `up`.

`StudioSite` is the shape the real upload apps share: the file is uploaded as soon as it is chosen (the page
shows "uploaded" or an error), the post is sent by a button through a fetch/XHR call, and the new post's
link shows up afterwards (in a share dialog, or in the account's content list). The post's id is the public
id in that link (`id_of`: TikTok's video id, YouTube's video id, Instagram's shortcode), the id the
platform's API adapter measures the post by (Instagram's resolves a shortcode to its media id). None of
these sites takes a client reference, so the post carries ACTP's reference marker (the one the platform's
API adapter looks for) and `find_post` without an API lookup searches the site's list of posts for it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from actp_pipeline.publish.publisher import AmbiguousOutcome, PlatformError


class SessionLost(Exception):
    """The site sent a submitted post back to its login page: nothing was posted."""


@dataclass(frozen=True)
class Paths:
    """Where a site's pages are: absolute URLs (a live site) or paths under the publisher's base_url (the
    sandbox). `login_prefix` is what a page's URL starts with when the site wants a login (default: login);
    `{channel}` in a path is the account."""

    login: str
    upload: str
    content: str = ""
    post_call: str = ""  # a regex a URL of the request the post button sends matches
    login_prefix: str = ""


def ref_marker(idempotency_key: str) -> str:
    """The reference TikTok's and Instagram's API adapters append to a caption (publish/tiktok.py,
    publish/instagram.py `key_marker`): `ref:` and 10 hex of the key's SHA-256."""
    return "ref:" + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:10]


def iso_utc(t: dt.datetime) -> str:
    """A naive time is UTC (the store's convention)."""
    t = t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)
    return t.isoformat().replace("+00:00", "Z")


def with_tags(caption: str, hashtags: list[str]) -> str:
    """The caption and the hashtags it does not already carry."""
    tags = " ".join(f"#{h.lstrip('#')}" for h in hashtags if h.strip() and f"#{h.lstrip('#')}" not in caption)
    return " ".join(p for p in (caption.rstrip(), tags) if p)


def id_of(url: str) -> str:
    """A post's public id from its link, the id the platform's API reads it by: TikTok's video id
    (tiktok.com/@a/video/<digits>), YouTube's video id (youtu.be/<id>, youtube.com/shorts/<id>,
    youtube.com/watch?v=<id>), Instagram's shortcode (instagram.com/reel/<code>/, /p/<code>/); otherwise
    the link's last path segment (the generic form's sandbox links)."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if path.endswith("/watch"):
        video = parse_qs(parts.query).get("v")
        if video and video[0]:
            return video[0]
    return path.rsplit("/", 1)[-1]


class SitePage:
    """One upload site; subclasses set the class attributes and the steps."""

    name = "generic"
    platform: str | None = None  # the one platform the site posts to (None: the form offers several)
    keeps_key = True  # the site itself keeps one post per idempotency key (only the generic form does)
    SELECTORS: dict[str, str] = {}
    LIVE: Paths | None = None
    SANDBOX: Paths

    def __init__(self, live: bool = False):
        if live and self.LIVE is None:
            raise ValueError(f"the {self.name} site has no live address")
        self.live = live
        self.paths: Paths = self.LIVE if live and self.LIVE is not None else self.SANDBOX

    def __repr__(self) -> str:
        return f"{type(self).__name__}(live={self.live})"

    def url(self, base_url: str, which: str, account: str = "") -> str:
        path = getattr(self.paths, which).replace("{channel}", quote(account, safe=""))
        return path if "://" in path else base_url + path

    def is_login(self, base_url: str, url: str) -> bool:
        prefix = self.paths.login_prefix or self.paths.login
        prefix = prefix if "://" in prefix else base_url + prefix
        return url.split("?", 1)[0].split("#", 1)[0].rstrip("/") == prefix.rstrip("/") or \
            url.startswith(prefix.rstrip("/") + "?") or url.startswith(prefix.rstrip("/") + "/")

    def sel(self, name: str) -> str:
        return self.SELECTORS[name]

    # the steps (UploadPages `up` supplies the machinery)
    async def log_in(self, up: Any, page: Any) -> Any:
        """Fill the login page and send it; returns the response to the login request (None if none)."""
        raise NotImplementedError

    async def publish_once(self, up: Any, page: Any, slot: Any, job: dict[str, Any], sent: list[Any]) -> dict[str, Any]:
        raise NotImplementedError

    async def find_post(self, up: Any, page: Any, slot: Any, key: str, account: str) -> dict[str, Any] | None:
        raise NotImplementedError


class StudioSite(SitePage):
    """The steps the three real upload apps share (see the module doc). SELECTORS must name: file,
    uploaded, alert, post; the subclasses fill the page and read the confirmation."""

    keeps_key = False

    def marker(self, key: str) -> str:
        return ref_marker(key)

    async def publish_once(self, up: Any, page: Any, slot: Any, job: dict[str, Any], sent: list[Any]) -> dict[str, Any]:
        await up._open(page, slot, self.url(up.base_url, "upload", job["account"]))
        await self.check_account(page, job["account"])
        await self.attach(up, page, job)
        await self.fill(up, page, job)
        if job.get("before_send") is not None:  # the worker's lease fence and rate stamp (store I/O: off the loop)
            await asyncio.to_thread(job["before_send"])
        response = await self.click_post(up, page, sent)
        status = response.status if response is not None else None
        if status == 401:  # the site wants a login again: the sandbox (and the real sites) post nothing then
            raise SessionLost()
        if status is not None and 400 <= status < 500:
            text = await up._error_text(page, self.sel("alert"))
            raise PlatformError(f"the site refused the post: HTTP {status}: {text}", status=status,
                                retryable=status in (408, 425, 429))
        if status is not None and status >= 500:
            raise AmbiguousOutcome(f"the post got HTTP {status}; the post may exist", status=status, retryable=True)
        if response is None and sent and not isinstance(sent[-1], str):
            failure = sent[-1].failure
            raise AmbiguousOutcome(f"the post request got no response ({failure or 'unknown error'}); "
                                   "the post may exist", retryable=True)
        try:
            return await self.confirmation(up, page, slot, job)
        except PlatformError:
            raise
        except Exception as e:
            raise AmbiguousOutcome(f"the confirmation cannot be read ({type(e).__name__}: "
                                   f"{' '.join(str(e).split())[:300]}); the post may exist", retryable=True) from e

    async def check_account(self, page: Any, account: str) -> None:
        """The page must show it is signed in as `account` (a site posts as the logged-in account)."""
        sel = self.SELECTORS.get("account")
        if sel and not await page.locator(sel.format(account=account)).count():
            raise PlatformError(f"the {self.name} session is not signed in as {account!r}", retryable=False)

    async def attach(self, up: Any, page: Any, job: dict[str, Any]) -> None:
        """Choose the file and wait for the page to say it is uploaded, or refuse it."""
        refused: list[int] = []

        def on_response(response: Any) -> None:
            if response.request.method == "POST" and response.status >= 400:
                refused.append(response.status)

        page.on("response", on_response)
        try:
            await page.locator(self.sel("file")).first.set_input_files(str(job["media_path"]))
            done, alert = page.locator(self.sel("uploaded")).first, page.locator(self.sel("alert")).first
            await done.or_(alert).filter(visible=True).first.wait_for(state="visible",
                                                                     timeout=up.submit_timeout_s * 1000)
        finally:
            page.remove_listener("response", on_response)
        if await alert.is_visible():
            status = refused[-1] if refused else None
            text = " ".join((await alert.inner_text()).split())
            raise PlatformError(f"the site refused the video{f': HTTP {status}' if status else ''}: {text}",
                                status=status, retryable=status in (408, 425, 429) or (status or 0) >= 500)

    async def fill(self, up: Any, page: Any, job: dict[str, Any]) -> None:
        raise NotImplementedError

    async def confirmation(self, up: Any, page: Any, slot: Any, job: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    async def type_into(self, locator: Any, text: str) -> None:
        """Replace the text of a rich editor (contenteditable): select all, delete, type line by line."""
        await locator.click()
        await locator.press("Control+a")
        await locator.press("Delete")
        for n, line in enumerate(text.split("\n")):
            if n:
                await locator.press("Shift+Enter")
            if line:
                await locator.page.keyboard.insert_text(line)

    async def click_post(self, up: Any, page: Any, sent: list[Any]) -> Any:
        """Click the post button: `sent` is marked just before the click (from then on the post may exist)
        and gets the post request once seen; returns its response (None: no request seen, or no answer)."""
        button = page.locator(self.sel("post")).first
        await button.click(trial=True)  # waits until it is visible and enabled; clicks nothing
        pattern = re.compile(self.paths.post_call)

        def is_post(request: Any) -> bool:
            return request.method == "POST" and bool(pattern.search(request.url))

        sent.append("clicked")
        try:
            async with page.expect_request(is_post, timeout=up.timeout_s * 1000) as info:
                await button.click(no_wait_after=True)
            request = await info.value
        except Exception as e:
            raise AmbiguousOutcome(f"no post request was seen after clicking post ({type(e).__name__}); "
                                   "the post may exist", retryable=True) from e
        sent.append(request)
        return await asyncio.wait_for(request.response(), up.submit_timeout_s)

    async def fill_schedule(self, page: Any, when: dt.datetime) -> None:
        """Date and time pickers (the browser context runs in UTC)."""
        when = when.astimezone(dt.UTC) if when.tzinfo else when
        await page.locator(self.sel("date")).first.fill(when.strftime("%Y-%m-%d"))
        await page.locator(self.sel("time")).first.fill(when.strftime("%H:%M"))

    async def post_of_row(self, row: Any, key: str, status_words: dict[str, str]) -> dict[str, Any]:
        """The post a content-list row shows: its link, its time, its status."""
        url = await row.locator(self.sel("row_link")).first.get_attribute("href")
        if not url:
            raise AmbiguousOutcome("the post's row shows no link; the post may exist", retryable=True)
        times = row.locator("time[datetime]")
        live_at = await times.first.get_attribute("datetime") if await times.count() else None
        text = " ".join((await row.inner_text()).split()).lower()
        status = next((v for k, v in status_words.items() if k in text), "live")
        return {"post_id": id_of(url), "url": url, "live_at": live_at or iso_utc(dt.datetime.now(dt.UTC)),
                "status": status, "idempotency_key": key}

    async def find_in_list(self, up: Any, page: Any, slot: Any, key: str, account: str,
                           status_words: dict[str, str]) -> dict[str, Any] | None:
        """The row of the account's content list that carries the key's marker."""
        await up._open(page, slot, self.url(up.base_url, "content", account))
        rows = page.locator(self.sel("row")).filter(has_text=self.marker(key))
        if not await rows.count():
            return None
        return await self.post_of_row(rows.first, key, status_words)
