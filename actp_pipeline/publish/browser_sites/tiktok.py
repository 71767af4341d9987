"""TikTok Studio's upload page (www.tiktok.com/tiktokstudio/upload) as a page object.

What the structure is based on: TikTok's help pages on uploading and scheduling from a computer (the
Studio upload page: pick a video, it uploads and shows "Uploaded", a "Description" editor, "Who can
watch this video" with Everyone / Friends / Only you, "When to post" Now or Schedule with a date and a
time, a "Post" button; afterwards the post appears in Studio's posts list with its link), and what is
widely reported about the page's markup: the description is a Draft.js rich-text editor (a
contenteditable div, not a textarea), the file input is a plain <input type="file" accept="video/*">, and
the Post button carries data-e2e="post_video_button" (the login button data-e2e="login-button"). The
address of the request the Post button sends, the posts list's rows and the visibility control's element
type are guesses. NONE of these selectors has been checked against the live page from this machine:
verify every entry of SELECTORS and LIVE with the browser's inspector before use; they are all here, so
fixing one is one edit.

The caption carries ACTP's reference (`ref:` + 10 hex of the key's SHA-256), the same marker the
Content Posting API adapter (publish/tiktok.py, key_in_title) looks for, so either finds the other's post.
"""

from __future__ import annotations

from typing import Any

from actp_pipeline.publish.browser_sites.base import Paths, StudioSite, with_tags

MAX_CAPTION = 2200  # what publish/tiktok.py keeps to; the Studio editor takes more

SELECTORS = {
    # login (www.tiktok.com/login/phone-or-email/email)
    "login_user": 'input[placeholder="Email or username"]',
    "login_password": 'input[type="password"]',
    "login_submit": 'button[data-e2e="login-button"]',
    "alert": '[role="alert"]',
    # the upload page
    "account": 'a[href$="/@{account}"]',  # the signed-in profile's link
    "file": 'input[type="file"][accept*="video"]',
    "uploaded": 'text="Uploaded"',
    "caption": 'div[contenteditable="true"]',
    "visibility": 'label:has-text("Who can watch this video") select',
    "schedule": 'label:has-text("Schedule") input[type="radio"]',
    "date": 'label:has-text("Date") input',
    "time": 'label:has-text("Time") input',
    "post": 'button[data-e2e="post_video_button"]',
    "confirmation": "text=Your video has been uploaded",
    # the posts list (tiktokstudio/content): one row per post, its link to tiktok.com/@user/video/<id>
    "row": "tr",
    "row_link": 'a[href*="/video/"]',
}
STATUS_WORDS = {"scheduled": "scheduled", "processing": "processing"}


class TikTokStudio(StudioSite):
    name = "tiktok"
    platform = "tiktok"
    SELECTORS = SELECTORS
    LIVE = Paths(login="https://www.tiktok.com/login/phone-or-email/email",
                 login_prefix="https://www.tiktok.com/login",
                 upload="https://www.tiktok.com/tiktokstudio/upload?from=upload",
                 content="https://www.tiktok.com/tiktokstudio/content",
                 post_call=r"/tiktok/web/project/post/")  # unverified
    SANDBOX = Paths(login="/web/tiktok/login/phone-or-email/email", upload="/web/tiktokstudio/upload",
                    content="/web/tiktokstudio/content", post_call=r"/web/tiktokstudio/api/post$")

    async def log_in(self, up: Any, page: Any) -> Any:
        await page.locator(self.sel("login_user")).fill(up.username)
        await page.locator(self.sel("login_password")).fill(up._password)
        return await up._submit(page, self.sel("login_submit"), up._path(self.url(up.base_url, "login")), [],
                                 up.timeout_s)

    def caption_of(self, job: dict[str, Any]) -> str:
        marker = self.marker(job["key"])
        text = with_tags(job["caption"], job["hashtags"])
        return text[:MAX_CAPTION - len(marker) - 1].rstrip() + " " + marker

    async def fill(self, up: Any, page: Any, job: dict[str, Any]) -> None:
        await self.type_into(page.locator(self.sel("caption")).first, self.caption_of(job))
        await page.locator(self.sel("visibility")).first.select_option(label="Everyone")
        if job["scheduled_at"] is not None:
            await page.locator(self.sel("schedule")).first.check()
            await self.fill_schedule(page, job["scheduled_at"])

    async def confirmation(self, up: Any, page: Any, slot: Any, job: dict[str, Any]) -> dict[str, Any]:
        """TikTok shows "Your video has been uploaded"; the post's link is in the posts list."""
        await page.locator(self.sel("confirmation")).first.wait_for(state="visible", timeout=up.submit_timeout_s * 1000)
        await up._open(page, slot, self.url(up.base_url, "content", job["account"]))
        rows = page.locator(self.sel("row")).filter(has_text=self.marker(job["key"]))
        if not await rows.count():
            raise RuntimeError("the new post is not in the posts list yet")
        return await self.post_of_row(rows.first, job["key"], STATUS_WORDS)

    async def find_post(self, up: Any, page: Any, slot: Any, key: str, account: str) -> dict[str, Any] | None:
        return await self.find_in_list(up, page, slot, key, account, STATUS_WORDS)
