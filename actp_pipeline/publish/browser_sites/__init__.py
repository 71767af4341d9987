"""The browser publisher's page objects: one module per upload site, each with its paths and selectors in
one table (fix a selector there and nowhere else).

    generic    the sandbox's plain upload form (/web/upload): the default
    tiktok     TikTok Studio's upload page (tiktok.com/tiktokstudio/upload)
    youtube    YouTube Studio's upload dialog (studio.youtube.com/channel/<id>/videos/upload)
    instagram  Instagram's web "Create new post" flow (instagram.com)

`site_for("tiktok")` is the page object for the sandbox's copy of the page (paths under the publisher's
base URL); `site_for("tiktok-live")` for the real site's addresses. The live selectors are unverified
against the real pages from here: check them before use (each module says what they are based on).
"""

from __future__ import annotations

from actp_pipeline.publish.browser_sites.base import SitePage

SITES = ("generic", "tiktok", "youtube", "instagram")
SITE_ENV = "ACTP_BROWSER_SITE"


def site_for(spec: str | SitePage | None = None) -> SitePage:
    """The page object for a site name (`name` or `name-live`); a SitePage is returned as it is."""
    if isinstance(spec, SitePage):
        return spec
    name = (spec or "generic").strip().lower()
    live = name.endswith("-live")
    name = name.removesuffix("-live")
    if name == "generic":
        from actp_pipeline.publish.browser_sites.generic import GenericSite as cls
    elif name == "tiktok":
        from actp_pipeline.publish.browser_sites.tiktok import TikTokStudio as cls  # type: ignore[assignment]
    elif name == "youtube":
        from actp_pipeline.publish.browser_sites.youtube import YouTubeStudio as cls  # type: ignore[assignment]
    elif name == "instagram":
        from actp_pipeline.publish.browser_sites.instagram import InstagramCreate as cls  # type: ignore[assignment]
    else:
        raise ValueError(f"unknown upload site {spec!r}: one of {', '.join(SITES)} (optionally with -live; "
                         f"${SITE_ENV})")
    return cls(live=live)


__all__ = ["SITES", "SITE_ENV", "SitePage", "site_for"]
