"""YouTube Studio's upload dialog (studio.youtube.com/channel/<channel id>/videos/upload) as a page object.

What the structure is based on: YouTube's help pages on uploading from a computer (sign in with Google:
email, Next, password, Next; in Studio, Create > Upload videos opens a dialog: select the file, which
starts uploading at once and shows its progress and the video's link; the Details step with a title, a
description and the required "made for kids" audience choice, and Tags under "Show more"; then the
Video elements, Checks and Visibility steps through Next; Visibility offers Private / Unlisted / Public or
Schedule with a date and a time; the last button saves, publishes or schedules, and a "Video published"
dialog shows the link), and what is widely reported about Studio's markup: Polymer elements such as
ytcp-uploads-dialog, the file input name="Filedata", title and description as contenteditable
div#textbox inside #title-textarea / #description-textarea, radio buttons tp-yt-paper-radio-button with
name="VIDEO_MADE_FOR_KIDS_NOT_MFK" / "PUBLIC", buttons #next-button, #done-button,
#second-container-expand-button, the link in .video-url-fadeable. The request the last button sends and
the content list's rows are guesses. NONE of these selectors has been checked against the live page from
this machine: verify every entry of SELECTORS and LIVE before use; fixing one is one edit here.

The account is the channel: the upload page's address holds its id (on the live site `UC...`). The video
carries ACTP's reference as a tag (`actp-ref-` + 24 hex of the key's SHA-256, the tag publish/youtube.py
looks for through the Data API) and, so the Studio content list can find it too, as the description's
last line.
"""

from __future__ import annotations

import hashlib
from typing import Any

from actp_pipeline.publish.browser_sites.base import (
    AmbiguousOutcome,
    Paths,
    StudioSite,
    with_tags,
)

TAG_PREFIX = "actp-ref-"  # publish/youtube.py TAG_PREFIX
MAX_TITLE = 100

SELECTORS = {
    # Google sign-in (accounts.google.com): identifier, Next, password, Next
    "login_user": 'input[type="email"]',
    "login_next": "#identifierNext",
    "login_password": 'input[type="password"][name="Passwd"]',
    "login_submit": "#passwordNext",
    "alert": '[role="alert"]',
    # the upload dialog
    "file": 'input[type="file"][name="Filedata"]',
    "uploaded": '.progress-label:has-text("complete")',
    "title": "#title-textarea #textbox",
    "description": "#description-textarea #textbox",
    "not_for_kids": 'tp-yt-paper-radio-button[name="VIDEO_MADE_FOR_KIDS_NOT_MFK"]',
    "show_more": "#toggle-button",
    "tags": 'input[aria-label="Tags"]',
    "next": "#next-button",
    "public": 'tp-yt-paper-radio-button[name="PUBLIC"]',
    "schedule": "#second-container-expand-button",
    "date": 'label:has-text("Date") input',
    "time": 'label:has-text("Time") input',
    "post": "#done-button",
    "video_link": ".video-url-fadeable a",
    "confirmation": "ytcp-video-share-dialog",
    # channel content: one row per video, the title links to the video
    "row": "tr",
    "row_link": "a#video-title",
}
STATUS_WORDS = {"scheduled": "scheduled", "processing": "processing"}


def ref_tag(idempotency_key: str) -> str:
    return TAG_PREFIX + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:24]


class YouTubeStudio(StudioSite):
    name = "youtube"
    platform = "youtube"
    SELECTORS = SELECTORS
    LIVE = Paths(login="https://accounts.google.com/ServiceLogin?service=youtube&continue=https%3A%2F%2Fstudio.youtube.com",
                 login_prefix="https://accounts.google.com",
                 upload="https://studio.youtube.com/channel/{channel}/videos/upload?d=ud",
                 content="https://studio.youtube.com/channel/{channel}/videos/upload",
                 post_call=r"/youtubei/v1/(upload/createvideo|video_manager/metadata_update)")  # unverified
    SANDBOX = Paths(login="/web/google/v3/signin/identifier", upload="/web/youtube-studio/channel/{channel}/videos/upload",
                    content="/web/youtube-studio/channel/{channel}/videos", post_call=r"/web/youtube-studio/api/post$")

    def marker(self, key: str) -> str:
        return ref_tag(key)

    async def check_account(self, page: Any, account: str) -> None:
        """The channel is in the page's address: nothing to check on the page."""

    async def log_in(self, up: Any, page: Any) -> Any:
        await page.locator(self.sel("login_user")).fill(up.username)
        await page.locator(self.sel("login_next")).click()
        await page.locator(self.sel("login_password")).fill(up._password)
        return await up._submit(page, self.sel("login_submit"), up._path(self.url(up.base_url, "login")), [],
                                 up.timeout_s)

    def texts_of(self, job: dict[str, Any]) -> tuple[str, str, list[str]]:
        """Title (the caption's first line), description (the rest, the hashtags and the reference) and tags."""
        lines = job["caption"].strip().split("\n")
        title = lines[0].replace("<", "").replace(">", "")[:MAX_TITLE].strip() or "Untitled"
        rest = "\n".join(lines[1:]).strip()
        description = with_tags(rest, [h for h in job["hashtags"] if f"#{h.lstrip('#')}" not in title])
        tags = [h.lstrip("#")[:30] for h in job["hashtags"] if h.strip()][:10] + [ref_tag(job["key"])]
        return title, (description + "\n" if description else "") + ref_tag(job["key"]), tags

    async def fill(self, up: Any, page: Any, job: dict[str, Any]) -> None:
        title, description, tags = self.texts_of(job)
        await self.type_into(page.locator(self.sel("title")).first, title)
        await self.type_into(page.locator(self.sel("description")).first, description)
        await page.locator(self.sel("not_for_kids")).first.click()
        await page.locator(self.sel("show_more")).first.click()
        await page.locator(self.sel("tags")).first.fill(", ".join(tags))
        for _ in range(3):  # Details -> Video elements -> Checks -> Visibility
            await page.locator(self.sel("next")).first.click()
        if job["scheduled_at"] is not None:
            await page.locator(self.sel("schedule")).first.click()
            await self.fill_schedule(page, job["scheduled_at"])
        else:
            await page.locator(self.sel("public")).first.click()

    async def confirmation(self, up: Any, page: Any, slot: Any, job: dict[str, Any]) -> dict[str, Any]:
        """The "Video published" dialog shows the link; the content list shows its time and status."""
        dialog = page.locator(self.sel("confirmation")).first
        await dialog.wait_for(state="visible", timeout=up.submit_timeout_s * 1000)
        link = await dialog.locator("a[href]").first.get_attribute("href")
        post = await self.find_in_list(up, page, slot, job["key"], job["account"], STATUS_WORDS)
        if post is None or (link and post["url"] != link):
            raise AmbiguousOutcome(f"the published video ({link}) is not in the channel's content list as {post}",
                                   retryable=True)
        return post

    async def find_post(self, up: Any, page: Any, slot: Any, key: str, account: str) -> dict[str, Any] | None:
        return await self.find_in_list(up, page, slot, key, account, STATUS_WORDS)
