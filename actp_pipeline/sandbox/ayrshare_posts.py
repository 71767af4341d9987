"""Posting through the sandbox's Ayrshare: media uploads, POST /api/post (each network that takes the post
becomes an ordinary world post), the networks' own post ids and URLs, and DELETE /api/post."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from .ayrshare_records import AyrshareRecords
from .ayrshare_rules import NAMES, AyrshareCodes, AyrshareError, Profile, bad, base62
from .clock import iso
from .errors import ApiError
from .publishing import MAX_HASHTAG_LEN, MAX_HASHTAGS, Publishing
from .seeding import derive_hex
from .tiktok_videos import SHARE_URL as TIKTOK_SHARE_URL

NO_API_DELETE = ("tiktok", "instagram")  # "Instagram and TikTok do not support delete via their APIs"
MAX_MEDIA_URLS = 10
MEDIA_URL = "https://media.sandbox.actp.local/ayrshare/{media_id}.mp4"
YOUTUBE_URL = "https://sandbox.actp.local/youtube/shorts/{video_id}"
INSTAGRAM_URL = "https://sandbox.actp.local/instagram/reel/{shortcode}/"
_MEDIA_ID = re.compile(r"(m_[0-9a-f]{20})(?:\.[A-Za-z0-9]{1,5})?$")
_HASHTAG = re.compile(r"#(\w{1,100})")


def _b64(hex_digits: str, length: int) -> str:
    return base64.urlsafe_b64encode(bytes.fromhex(hex_digits)).decode("ascii").rstrip("=")[:length]


def tiktok_video_id(seed: int, post_id: str) -> str:
    """The 19-digit id sandbox/tiktok_videos.py gives a world post (the same formula, so the post has one
    TikTok id whichever dialect it is read through)."""
    n = int(derive_hex(seed, "tiktok_video_id", post_id, length=15), 16) % 10**18
    return str(7 * 10**18 + n)


def media_id_of(url: str) -> str | None:
    """The sandbox media id a media URL names (its last path segment), or None."""
    path = url.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    m = _MEDIA_ID.search(path.rsplit("/", 1)[-1])
    return m.group(1) if m else None


class AyrsharePosts(AyrshareRecords):
    """Media uploads, posts to several networks at once, and their deletion."""

    publishing: Publishing

    # ---------------------------------------------------------------------------------- media
    def upload_media(self, tmp: Path, size: int, sha256: str, file_name: str | None,
                     description: str | None) -> dict[str, Any]:
        """Keep an uploaded video (the probe of every sandbox upload) and describe it as /media/upload does."""
        if size > self.policy.max_upload_bytes:
            raise AyrshareError(413, AyrshareCodes.MEDIA, f"The file is larger than the {self.policy.max_upload_bytes} "
                                "bytes /media/upload takes; pass a media URL to /post instead.", action="media")
        try:
            media = self.publishing.keep_media(tmp, size, sha256, "file")
        except ApiError as exc:
            raise AyrshareError(400, AyrshareCodes.MEDIA, exc.message, action="media") from None
        mid = media["media_id"]
        upload_id = "-".join((sha256[:8], sha256[8:12], sha256[12:16], sha256[16:20], sha256[20:32])) + "-mp4"
        out = {"id": upload_id, "url": MEDIA_URL.format(media_id=mid)}
        if file_name is not None:
            out["fileName"] = file_name
        if description is not None:
            out["description"] = description
        return out

    @staticmethod
    def decode_data_uri(value: Any) -> bytes:
        """The bytes of a Base64 data URI (data:<type>;base64,<data>)."""
        if not isinstance(value, str) or not value.startswith("data:"):
            raise bad("file must be a Base64 data URI string (data:video/mp4;base64,...)", action="media")
        head, sep, data = value.partition(",")
        if not sep or not head.endswith(";base64"):
            raise bad("file must be a Base64 data URI string (data:video/mp4;base64,...)", action="media")
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise bad("file is not valid Base64", action="media") from None

    # ---------------------------------------------------------------------------------- posts
    def _new_id(self) -> str:
        n = self.state.increment_meta("ayrshare.seq")
        return base62(derive_hex(self.config.seed, "ayrshare_post", n, length=32), 20)

    def _social(self, platform: str, post: dict[str, Any]) -> tuple[str, str]:
        """(the network's post id, its URL) of a world post."""
        seed, pid = self.config.seed, post["post_id"]
        if platform == "tiktok":
            vid = tiktok_video_id(seed, pid)
            return vid, TIKTOK_SHARE_URL.format(account=post["account"], video_id=vid)
        if platform == "youtube":
            vid = _b64(derive_hex(seed, "ayrshare_youtube", pid, length=32), 11)
            return vid, YOUTUBE_URL.format(video_id=vid)
        n = int(derive_hex(seed, "ayrshare_instagram", pid, length=20), 16) % 10**15
        code = _b64(derive_hex(seed, "ayrshare_instagram_code", pid, length=32), 11)
        return str(17_800_000_000_000_000 + n), INSTAGRAM_URL.format(shortcode=code)

    def _media_of(self, urls: list[str]) -> str | None:
        if len(urls) > MAX_MEDIA_URLS:
            raise bad(f"mediaUrls has {len(urls)} URLs; at most {MAX_MEDIA_URLS}", action="post")
        media_ids = []
        for url in urls:
            if not url.startswith("https://"):
                raise AyrshareError(400, AyrshareCodes.MEDIA, f"Media URL {url[:200]!r} must begin with https://.",
                                    action="post")
            mid = media_id_of(url)
            if mid is None or self.state.get_media(mid) is None:
                raise AyrshareError(400, AyrshareCodes.MEDIA, f"Media URL {url[:200]!r} is not accessible (the "
                                    "sandbox fetches nothing from the web: upload the file with /media/upload and "
                                    "use the url it returns).", action="post")
            media_ids.append(mid)
        return media_ids[0] if media_ids else None

    def create_post(self, profile: Profile, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST /post: (HTTP status, answer). Networks that take the post become world posts at once."""
        text, platforms = self._post_text_and_platforms(body)
        media_urls = self._str_list(body, "mediaUrls")
        media_id = self._media_of(media_urls)
        notes, yt = self._post_options(body)
        now = self.clock.now()
        schedule = self._schedule_of(body)
        scheduled = schedule is not None and schedule > now

        ayr_id = self._new_id()
        entries, errors = self._post_to_networks(profile, ayr_id, platforms, text, media_id, yt,
                                                 schedule if scheduled else None)
        record = {
            "id": ayr_id, "profile": profile.profile_id, "profileTitle": profile.title, "post": text,
            "platforms": platforms, "mediaUrls": media_urls, "notes": notes,
            "scheduleDate": iso(schedule) if scheduled and schedule is not None else iso(now),
            "created": iso(now), "type": "scheduled" if scheduled else "now", "entries": entries,
            "errors": errors, "deleted": False,
        }
        if "shortenLinks" in body and isinstance(body["shortenLinks"], bool):
            record["shortenLinks"] = body["shortenLinks"]
        self._save(record, new=True)
        if scheduled and not errors:
            return 200, {"status": "scheduled", "scheduleDate": record["scheduleDate"], "id": ayr_id, "post": text,
                         "refId": self.ref_id(profile.profile_id), "errors": [], "postIds": []}
        post_ids = [] if scheduled else [self._post_id_entry(e) for e in entries]
        answer = {"status": "error" if errors else "success", "errors": errors, "postIds": post_ids, "id": ayr_id}
        if errors:
            answer["error"] = {"code": errors[0]["code"], "message": errors[0]["message"]}  # see sandbox/ayrshare.py
        return (400 if errors else 200), answer

    def _post_to_networks(self, profile: Profile, ayr_id: str, platforms: list[str], text: str,
                          media_id: str | None, yt: dict[str, Any],
                          scheduled_at: datetime | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(entries, errors): a world post for each network that takes the post, an error for each that refuses."""
        errors: list[dict[str, Any]] = []
        entries: list[dict[str, Any]] = []
        hashtags = [t[:MAX_HASHTAG_LEN] for t in dict.fromkeys(_HASHTAG.findall(text))][:MAX_HASHTAGS]
        for platform in platforms:
            err = self._check_network(profile, platform, text, media_id, yt)
            if err is not None:
                errors.append(err)
                continue
            values = {"idempotency_key": f"ayrshare:{ayr_id}:{platform}", "media_id": media_id,
                      "platform": platform, "account": profile.accounts[platform], "caption": text,
                      "hashtags": hashtags, "scheduled_at": scheduled_at}
            post, _ = self.publishing.store_post(values)
            social_id, url = self._social(platform, post)
            entries.append({"platform": platform, "id": social_id, "postUrl": url, "post_id": post["post_id"],
                            "deleted": False})
            self.state.set_meta(f"ayrshare.social.{platform}.{social_id}", ayr_id)
        return entries, errors

    # ----------------------------------------------------------------------------------- delete
    def delete(self, profile: Profile, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        bulk = body.get("bulk")
        if bulk is not None:
            if not isinstance(bulk, list) or not bulk or len(bulk) > 100 or not all(isinstance(i, str) for i in bulk):
                raise bad("bulk must be an array of 1 to 100 Ayrshare Post IDs", action="delete")
            results = []
            for ayr_id in bulk:
                try:
                    _, answer = self._delete_one(profile, ayr_id)
                except AyrshareError as exc:
                    answer = {"status": "error", "code": exc.ayrshare_code, "message": exc.message}
                results.append({"id": ayr_id, **answer})
            ok = all(r["status"] == "success" for r in results)
            answer = {"status": "success" if ok else "error", "bulk": results}
            if not ok:
                answer.update(code=AyrshareCodes.BAD_REQUEST, message="Some posts were not deleted: see bulk.")
                answer["error"] = {"code": answer["code"], "message": answer["message"]}
            return (200 if ok else 400), answer
        if "id" not in body:
            raise bad("id or bulk is required", action="delete")
        return self._delete_one(profile, body["id"])

    def _delete_one(self, profile: Profile, ayr_id: Any) -> tuple[int, dict[str, Any]]:
        record = self._load(profile, ayr_id)
        now = self.clock.now()
        status = self.status_of(record, now)
        if status == "deleted":
            raise AyrshareError(400, AyrshareCodes.ALREADY_DELETED, "The post is already deleted.", action="delete")
        answer: dict[str, Any] = {}
        failed = False
        for e in record["entries"]:
            if e["deleted"]:
                continue
            if status != "pending" and e["platform"] in NO_API_DELETE:
                failed = True
                answer[e["platform"]] = {
                    "action": "delete", "status": "error", "code": AyrshareCodes.DELETE_UNSUPPORTED, "id": e["id"],
                    "message": f"{NAMES.get(e['platform'], e['platform'])} does not support deleting a published "
                    "post through its API: delete it in the app."}
                continue
            e["deleted"] = True
            answer[e["platform"]] = {"action": "delete", "status": "success", "id": e["id"]}
        if all(e["deleted"] for e in record["entries"]):
            record["deleted"] = True
        self._save(record)
        answer["status"] = "error" if failed else "success"
        if failed:
            answer["error"] = {"code": AyrshareCodes.DELETE_UNSUPPORTED, "message": "some networks refused the delete"}
        return (400 if failed else 200), answer
