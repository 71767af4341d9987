"""Each platform's own public link of a sandbox post, with the id that platform's dialect uses for it.

A real platform's pages show the post's public link, never the sandbox's id: the copies of TikTok Studio,
YouTube Studio and Instagram (routes/web_studio.py) show these, so the browser publisher reads the same id
the platform's API (the sandbox's dialect of it) measures the post by. The ground truth names it too
(/sandbox/truth/posts `public_id`), for evaluation code that maps a platform's id to the sandbox's post.

    tiktok     https://www.tiktok.com/@<account>/video/<video id>   the Display API's video id (tiktok_videos.py)
    youtube    https://youtu.be/<video id>                          the Data API's video id (youtube_uploads.py)
    instagram  https://www.instagram.com/reel/<shortcode>/          the IG media's shortcode (instagram.py)

A post the platform's dialect does not know (a YouTube post made through the generic form or the
aggregator has no YouTube video) has no public id: its link stays the sandbox's own (Publishing.POST_URL).
"""

from __future__ import annotations

from typing import Any

TIKTOK_URL = "https://www.tiktok.com/@{account}/video/{id}"
TIKTOK_PROFILE = "https://www.tiktok.com/@{account}"
# YouTube Studio's upload dialog shows the new video's link as soon as the upload starts, before processing
# has decided whether the video is a Short; that link is the youtu.be short link, which opens any video
# (a Short too), so the sandbox's Studio shows youtu.be/<id> while uploading, in its share dialog and in
# the channel's content list.
YOUTUBE_URL = "https://youtu.be/{id}"
INSTAGRAM_URL = "https://www.instagram.com/reel/{id}/"
URLS = {"tiktok": TIKTOK_URL, "youtube": YOUTUBE_URL, "instagram": INSTAGRAM_URL}


class PublicLinks:
    """Public ids and links of sandbox posts through the platforms' dialect domains (any may be None)."""

    def __init__(self, tiktok: Any = None, youtube: Any = None, instagram: Any = None):
        self.tiktok = tiktok  # TikTokDirectPost (its video_id)
        self.youtube = youtube  # YouTube (video_of_post, new_video_id, record_video)
        self.instagram = instagram  # InstagramGraph (media_id, shortcode, post_of_shortcode)

    def public_id(self, post: dict[str, Any]) -> str | None:
        """The post's id on its platform (None when that platform's dialect has no such post)."""
        platform, post_id = post["platform"], post["post_id"]
        if platform == "tiktok" and self.tiktok is not None:
            return str(self.tiktok.video_id(post_id))
        if platform == "youtube" and self.youtube is not None:
            return self.youtube.video_of_post(post_id)
        if platform == "instagram" and self.instagram is not None:
            return str(self.instagram.shortcode(self.instagram.media_id(post_id, post.get("account"))))
        return None

    def url(self, post: dict[str, Any], public_id: str | None = None) -> str:
        """The post's public link on its platform, else the sandbox's own."""
        public_id = public_id if public_id is not None else self.public_id(post)
        if public_id is None:
            return str(post["url"])
        return URLS[post["platform"]].format(account=post["account"], id=public_id)

    def of(self, post: dict[str, Any]) -> dict[str, Any]:
        """A (public) post with its platform's `public_id` (or None) and that platform's `url`."""
        public_id = self.public_id(post)
        return {**post, "public_id": public_id, "url": self.url(post, public_id)}
