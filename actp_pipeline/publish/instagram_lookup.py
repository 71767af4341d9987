"""Finding the reel made for an ACTP idempotency key, ACTP's view of a published reel (`_post`), and the
media id of a reel known by its link's shortcode (`media_ids`: a post made through a browser).

Not posting twice (Instagram has no idempotency key)
----------------------------------------------------
Two records, because each covers a case the other cannot:
1. The journal (SQLite at `journal_path`, in memory when None) holds the container id from step 2 on.
   `find_post` asks that container: PUBLISHED means the reel exists (its media id is in the journal, or
   found by step 2 below). A container that is FINISHED or IN_PROGRESS was not published: `publish` then
   publishes *that same container* instead of making a new one, so even a media_publish whose answer was
   lost and which did land cannot be repeated into a second reel (a container publishes at most once:
   Instagram refuses a second media_publish of it). ERROR/EXPIRED or unknown containers are forgotten.
2. The caption marker `ref:<10 hex of the key's SHA-256>` (turn off with key_in_caption=False; then the
   exact caption's hash stored in the journal is matched instead): `find_post` pages the user's media
   (`lookup_pages` pages of 50, newest first) for it when the journal has no answer (lost, another
   machine), and to learn the media id of a PUBLISHED container whose media_publish answer was lost.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from facebook_business.adobjects.igmedia import IGMedia
from facebook_business.adobjects.shadowigmediabuilder import ShadowIGMediaBuilder
from facebook_business.exceptions import FacebookRequestError

from actp_pipeline.publish.instagram_api import UNKNOWN_OBJECT_SUBCODE, InstagramApi, graph_time, iso_utc
from actp_pipeline.publish.instagram_journal import ContainerJournal, caption_sha
from actp_pipeline.publish.publisher import AmbiguousOutcome, PlatformError


SHORTCODE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_LINK = re.compile(r"/(?:reels?|p|tv)/([A-Za-z0-9_-]+)/?$")


def shortcode_of(permalink: str | None) -> str | None:
    """The shortcode of a media's permalink (instagram.com/reel/<shortcode>/), else None."""
    m = _LINK.search(urlsplit(permalink or "").path)
    return m.group(1) if m else None


def key_marker(idempotency_key: str) -> str:
    """The reference appended to a caption so `find_post` can recognise the reel among the user's media."""
    return "ref:" + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:10]


class InstagramLookup(InstagramApi):
    """`find_post` through the journal's container, then the user's media; `_post` shapes what both return."""

    account: str
    journal: ContainerJournal
    key_in_caption: bool
    lookup_pages: int

    def _container_status(self, container_id: str) -> str | None:
        """The container's status_code; None when Instagram does not know it."""
        try:
            got = self._call("container status", lambda: ShadowIGMediaBuilder(container_id, api=self.api).api_get(
                fields=["status_code", "status"]))
        except PlatformError as e:
            cause = e.__cause__
            if isinstance(cause, FacebookRequestError) and (
                    cause.api_error_subcode() == UNKNOWN_OBJECT_SUBCODE or cause.http_status() == 404):
                return None
            raise
        return got.get("status_code")

    def _post(self, media_id: str, idempotency_key: str | None, container_id: str | None = None,
              media: dict[str, Any] | None = None) -> dict[str, Any]:
        if media is None or "permalink" not in media:
            media = self._call("media", lambda: IGMedia(media_id, api=self.api).api_get(
                fields=["id", "permalink", "timestamp", "media_type", "media_product_type"])).export_all_data()
        live = graph_time(media.get("timestamp"))
        return {"post_id": media_id, "url": media.get("permalink"), "live_at": iso_utc(live) if live else None,
                "status": "live", "platform": "instagram", "account": self.account,
                "idempotency_key": idempotency_key, "container_id": container_id}

    # ------------------------------------------------------------------------------- lookups
    def find_post(self, idempotency_key: str) -> dict[str, Any] | None:
        """The reel made for this key, or None when there is none and none can appear without a new
        media_publish (see the module docstring)."""
        entry = self.journal.recall(idempotency_key)
        if entry is not None:
            if entry["media_id"]:
                return self._post(entry["media_id"], idempotency_key, entry["container_id"])
            state = self._container_status(entry["container_id"])
            if state == "PUBLISHED":
                found = self._scan(idempotency_key, entry["caption_sha"])
                if found is None:
                    raise AmbiguousOutcome(f"Instagram container {entry['container_id']} is PUBLISHED but its "
                                           "media is not among the user's latest media", retryable=True)
                self.journal.set_media(entry["container_id"], found["post_id"])
                found["container_id"] = entry["container_id"]
                return found
            if state in ("IN_PROGRESS", "FINISHED"):
                return None  # not published; publish() publishes this very container
            self.journal.forget(idempotency_key, entry["container_id"])
        if self.key_in_caption:
            return self._scan(idempotency_key, None)
        return None

    def _scan(self, idempotency_key: str, sha: str | None) -> dict[str, Any] | None:
        marker = key_marker(idempotency_key)
        for m in self._user_media(["id", "caption", "permalink", "timestamp"]):
            text = m.get("caption") or ""
            if (self.key_in_caption and marker in text) or (sha is not None and caption_sha(text) == sha):
                return self._post(str(m["id"]), idempotency_key, media=m.export_all_data())
        return None

    def _user_media(self, fields: list[str]) -> Iterator[Any]:
        """The user's media, newest first, at most lookup_pages pages of 50 (GET /{ig-user-id}/media, paged)."""
        cursor = self._call("media", lambda: self._user().get_media(fields=fields, params={"limit": 50}))
        seen = 0
        try:
            for m in cursor:
                yield m
                seen += 1
                if seen >= self.lookup_pages * 50:
                    return
        except FacebookRequestError as e:
            raise self._classify("media (next page)", e, False) from e

    # ----------------------------------------------------------------------------- shortcodes
    def media_ids(self, post_ids: list[str]) -> dict[str, str]:
        """post id -> IG media id. A media id (digits, what media_publish answers) is itself. A shortcode (the
        id in a reel's link, instagram.com/reel/<shortcode>/: what a post made through a browser is known
        by) is looked up in the journal, else among the user's media (`GET /{ig-user-id}/media?fields=id,
        shortcode,permalink,timestamp`, newest first, at most lookup_pages pages of 50; every pair seen is
        kept in the journal). An id not found is left out (the caller reports it unknown, never 0)."""
        out = {pid: pid for pid in post_ids if pid.isdigit()}
        codes = [pid for pid in dict.fromkeys(post_ids) if pid not in out and SHORTCODE.fullmatch(pid)]
        if not codes:
            return out
        out.update(self.journal.media_of_shortcodes(self.ig_user_id, codes))
        wanted = {c for c in codes if c not in out}
        seen: dict[str, str] = {}
        if wanted:
            for m in self._user_media(["id", "shortcode", "permalink", "timestamp"]):
                code = m.get("shortcode") or shortcode_of(m.get("permalink"))
                if code:
                    seen[code] = str(m["id"])
                if wanted.issubset(seen):
                    break
            self.journal.remember_shortcodes(self.ig_user_id, seen)
        out.update({c: seen[c] for c in wanted if c in seen})
        return out
