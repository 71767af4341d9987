"""The generic upload site: the sandbox's plain HTML form under /web (actp_pipeline/sandbox/routes/web.py).

No real platform has this page. It is ACTP's own site: one form with the video, caption, hashtags, the
platform and account to post to, a client reference (our idempotency key, which the site keeps: one post
per reference) and an optional go-live time; the answer is a redirect to a confirmation page; the site's
post list finds a post by its reference. Its element ids are its contract with this page object.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote, urlsplit

from actp_pipeline.publish.browser_sites.base import (
    Paths,
    SessionLost,
    SitePage,
    iso_utc,
)
from actp_pipeline.publish.publisher import AmbiguousOutcome, PlatformError

SELECTORS = {
    "username": "#username", "password": "#password", "submit": "#submit", "alert": "#error",
    "video": "#video", "caption": "#caption", "hashtags": "#hashtags", "platform": "#platform",
    "account": "#account", "key": "#idempotency_key", "scheduled_at": "#scheduled_at",
    # the confirmation page
    "post_id": "#post-id", "post_url": "#post-url", "live_at": "#live-at", "status": "#status",
    "confirmed_key": "#idempotency-key",
    # the post list: li.post with data-post-id, data-url, data-live-at, data-status, data-idempotency-key
    "post_item": "li.post",
}


class GenericSite(SitePage):
    name = "generic"
    platform = None
    keeps_key = True
    SELECTORS = SELECTORS
    SANDBOX = Paths(login="/web/login", upload="/web/upload", content="/web/posts")

    async def log_in(self, up: Any, page: Any) -> Any:
        await page.fill(self.sel("username"), up.username)
        await page.fill(self.sel("password"), up._password)
        return await up._submit(page, self.sel("submit"), self.paths.login, [], up.timeout_s)

    async def publish_once(self, up: Any, page: Any, slot: Any, job: dict[str, Any], sent: list[Any]) -> dict[str, Any]:
        key, upload = job["key"], self.paths.upload
        await up._open(page, slot, up.base_url + upload)
        if not await page.locator(self.sel("video")).count():
            raise PlatformError(f"{upload} shows no upload form: {await page.title()!r}", retryable=True)
        for field in ("platform", "account"):
            offered = await page.eval_on_selector_all(f"{self.sel(field)} option", "els => els.map(e => e.value)")
            if job[field] not in offered:
                raise PlatformError(f"the upload form offers no {field} {job[field]!r} (offers {offered})",
                                    retryable=False)
        await page.set_input_files(self.sel("video"), str(job["media_path"]))
        await page.fill(self.sel("caption"), job["caption"])
        await page.fill(self.sel("hashtags"), " ".join(job["hashtags"]))
        await page.select_option(self.sel("platform"), job["platform"])
        await page.select_option(self.sel("account"), job["account"])
        await page.fill(self.sel("key"), key)
        await page.fill(self.sel("scheduled_at"), iso_utc(job["scheduled_at"]) if job["scheduled_at"] else "")
        if job.get("before_send") is not None:  # the worker's lease fence and rate stamp (store I/O: off the loop)
            await asyncio.to_thread(job["before_send"])

        response = await up._submit(page, self.sel("submit"), upload, sent, up.submit_timeout_s)
        if response is None:
            failure = sent[-1].failure if sent else None
            raise AmbiguousOutcome(f"the upload request got no response ({failure or 'unknown error'}); "
                                   "the post may exist", retryable=True)
        status = response.status
        if status in (301, 302, 303, 307, 308):
            location = urlsplit(response.headers.get("location") or "").path
            if location == self.paths.login:
                await up._settle(page, lambda url: up._path(url) == self.paths.login)
                raise SessionLost()
            await up._settle(page, lambda url: up._path(url).startswith(self.paths.content + "/"))
            return await self._confirmation(up, page, key)
        if 400 <= status < 500:  # the site refused the post and said why: nothing was posted
            text = await up._error_text(page, self.sel("alert"))
            raise PlatformError(f"the site refused the upload: HTTP {status}: {text}", status=status,
                                retryable=status in (408, 425, 429))
        raise AmbiguousOutcome(f"the upload got HTTP {status}; the post may exist", status=status, retryable=True)

    async def _confirmation(self, up: Any, page: Any, key: str) -> dict[str, Any]:
        wait = up.timeout_s * 1000

        async def text(name: str) -> str:
            return (await page.locator(self.sel(name)).first.inner_text(timeout=wait)).strip()

        try:
            live = page.locator(self.sel("live_at")).first
            post = {
                "post_id": await text("post_id"),
                "url": await page.locator(self.sel("post_url")).first.get_attribute("href", timeout=wait),
                "live_at": await live.get_attribute("datetime") or await text("live_at"),
                "status": await text("status"),
                "idempotency_key": await text("confirmed_key"),
            }
        except Exception as e:
            raise AmbiguousOutcome(f"the confirmation page cannot be read ({e}); the post may exist",
                                   retryable=True) from e
        if post["idempotency_key"] != key or not post["post_id"] or not post["url"]:
            raise AmbiguousOutcome(f"the confirmation page shows another post ({post}); the post may exist",
                                   retryable=True)
        return post

    async def find_post(self, up: Any, page: Any, slot: Any, key: str, account: str) -> dict[str, Any] | None:
        await up._open(page, slot, f"{up.base_url}{self.paths.content}?idempotency_key={quote(key, safe='')}")
        items = await page.eval_on_selector_all(self.sel("post_item"),
                                                "els => els.map(e => Object.assign({}, e.dataset))")
        for item in items:
            if item.get("idempotencyKey") == key:
                return {"post_id": item.get("postId"), "url": item.get("url"), "live_at": item.get("liveAt"),
                        "status": item.get("status"), "idempotency_key": key}
        return None
