"""Instagram's web "Create new post" flow (www.instagram.com) as a page object.

What the structure is based on: Instagram's help pages on posting from a computer (log in with username
and password; Create opens a "Create new post" dialog: "Select from computer", a notice that video posts
are shared as reels, then Crop, Edit and the caption step, each left with "Next", then "Share"; the
dialog then says the reel has been shared; the reel is on the profile's Reels tab, at
instagram.com/reel/<code>/; instagram.com cannot schedule posts, Meta Business Suite can), and what is
widely reported about its markup: inputs name="username" / name="password" on the login page, a hidden
<input type="file"> in the dialog, "Next" and "Share" as div role="button", the caption editor a
contenteditable div role="textbox" aria-label="Write a caption...", "New post" as the Create link's
aria-label, og:url on a reel's page. The request Share sends is a guess. NONE of these selectors has been
checked against the live page from this machine: verify every entry of SELECTORS and LIVE before use.

The caption carries ACTP's reference (`ref:` + 10 hex of the key's SHA-256), the marker the Graph API
adapter (publish/instagram.py) looks for among the account's media.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urljoin

from actp_pipeline.publish.browser_sites.base import (
    AmbiguousOutcome,
    Paths,
    PlatformError,
    StudioSite,
    id_of,
    iso_utc,
    with_tags,
)

MAX_CAPTION = 2200
LOOKUP_TILES = 12  # how many of the newest reels find_post opens

SELECTORS = {
    "login_user": 'input[name="username"]',
    "login_password": 'input[name="password"]',
    "login_submit": 'button[type="submit"]',
    "alert": '[role="alert"]',
    "account": 'a[href*="/{account}/"]',  # the Profile link of the signed-in account
    "new_post": '[aria-label="New post"]',
    "dialog": 'div[role="dialog"][aria-label="Create new post"]',
    "file": 'div[role="dialog"] input[type="file"]',
    "uploaded": 'h2:has-text("Crop")',
    "reels_ok": 'div[role="dialog"] button:has-text("OK")',
    "next": '[role="button"]:has-text("Next")',
    "caption": '[aria-label="Write a caption..."][contenteditable="true"]',
    "post": '[role="button"]:has-text("Share")',
    "confirmation": "text=Your reel has been shared",
    # the profile's reels and one reel's page
    "tile": 'a[href*="/reel/"]',
    "reel_url": 'meta[property="og:url"]',
    "reel_caption": "h1",
}


class InstagramCreate(StudioSite):
    name = "instagram"
    platform = "instagram"
    SELECTORS = SELECTORS
    LIVE = Paths(login="https://www.instagram.com/accounts/login/", upload="https://www.instagram.com/",
                 content="https://www.instagram.com/{channel}/reels/",
                 post_call=r"/api/v1/media/configure_to_clips/")  # unverified
    SANDBOX = Paths(login="/web/instagram/accounts/login", upload="/web/instagram/create",
                    content="/web/instagram/{channel}/reels", post_call=r"/web/instagram/api/post$")

    async def log_in(self, up: Any, page: Any) -> Any:
        await page.locator(self.sel("login_user")).fill(up.username)
        await page.locator(self.sel("login_password")).fill(up._password)
        return await up._submit(page, self.sel("login_submit"), up._path(self.url(up.base_url, "login")), [],
                                 up.timeout_s)

    async def attach(self, up: Any, page: Any, job: dict[str, Any]) -> None:
        if job["scheduled_at"] is not None:
            raise PlatformError("instagram.com's create flow cannot schedule a post (Meta Business Suite can); "
                                "post it at its slot instead", retryable=False)
        if not await page.locator(self.sel("dialog")).first.is_visible():
            await page.locator(self.sel("new_post")).first.click()
        await super().attach(up, page, job)

    async def fill(self, up: Any, page: Any, job: dict[str, Any]) -> None:
        ok = page.locator(self.sel("reels_ok")).first
        if await ok.is_visible():
            await ok.click()
        for _ in range(2):  # Crop -> Edit -> caption
            await page.locator(self.sel("next")).first.click()
        marker = self.marker(job["key"])
        text = with_tags(job["caption"], job["hashtags"])[:MAX_CAPTION - len(marker) - 1].rstrip() + " " + marker
        await self.type_into(page.locator(self.sel("caption")).first, text)

    async def confirmation(self, up: Any, page: Any, slot: Any, job: dict[str, Any]) -> dict[str, Any]:
        """"Your reel has been shared"; its link is on the profile's Reels tab."""
        await page.locator(self.sel("confirmation")).first.wait_for(state="visible", timeout=up.submit_timeout_s * 1000)
        post = await self.find_post(up, page, slot, job["key"], job["account"])
        if post is None:
            raise AmbiguousOutcome("the shared reel is not on the profile yet", retryable=True)
        return post

    async def find_post(self, up: Any, page: Any, slot: Any, key: str, account: str) -> dict[str, Any] | None:
        """The newest reels of the profile, opened one by one until one's caption has the key's marker."""
        await up._open(page, slot, self.url(up.base_url, "content", account))
        hrefs = await page.eval_on_selector_all(self.sel("tile"), "els => els.map(e => e.getAttribute('href'))")
        marker = self.marker(key)
        for href in list(dict.fromkeys(hrefs))[:LOOKUP_TILES]:
            await up._open(page, slot, urljoin(page.url, href))
            caption = await page.locator(self.sel("reel_caption")).first.inner_text()
            if marker not in caption:
                continue
            url = await page.locator(self.sel("reel_url")).first.get_attribute("content") or page.url
            times = page.locator("time[datetime]")
            live_at = await times.first.get_attribute("datetime") if await times.count() else None
            status = (await page.locator("[data-status]").first.inner_text()).strip() \
                if await page.locator("[data-status]").count() else "live"
            return {"post_id": id_of(url), "url": url, "live_at": live_at or iso_utc(dt.datetime.now(dt.UTC)),
                    "status": status, "idempotency_key": key}
        return None
