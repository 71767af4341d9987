"""The HTML and the one script of the sandbox's copies of three real upload pages (routes/web_studio.py).

Each page has the steps, element roles, labels and attributes its real counterpart is publicly known to
use (see the page objects in actp_pipeline/publish/browser_sites/ for what each is based on); the looks
are not copied. Every value is escaped. The script (served from the site itself, so the pages keep a
strict Content-Security-Policy) does what the real single-page apps do: upload the chosen file at once
with fetch, show progress and then "uploaded", enable the post button, send the post as JSON and show
the confirmation. Errors appear in the page's role="alert" element.
"""

from __future__ import annotations

from html import escape
from typing import Any, Iterable

SCRIPT_PATH = "/web/studio-assets/studio.js"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; connect-src 'self'; "
                               "style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
_STYLE = ("body{font-family:system-ui,sans-serif;max-width:52rem;margin:1rem auto;padding:0 1rem;color:#222}"
          "[hidden]{display:none!important}[contenteditable]{border:1px solid #999;min-height:3rem;padding:.4rem}"
          "[role=alert]{color:#a00;background:#fee;padding:.6rem}[role=button],button{display:inline-block;"
          "border:1px solid #666;padding:.3rem .8rem;margin:.3rem;cursor:pointer}[aria-disabled=true]{opacity:.4}"
          "[role=radio]{display:block;cursor:pointer}[role=radio][aria-checked=true]{font-weight:700}"
          "label{display:block;margin:.5rem 0}")


def doc(title: str, body: str, data: dict[str, str], head: str = "") -> str:
    attrs = " ".join(f'data-{k}="{escape(v)}"' for k, v in data.items())
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>{head}'
            f'<style>{_STYLE}</style></head><body {attrs}>{body}'
            f'<script src="{SCRIPT_PATH}" defer></script></body></html>')


def alert(message: str = "", field: str | None = None) -> str:
    hidden = "" if message else " hidden"
    fld = f' data-field="{escape(field)}"' if field else ""
    return f'<div role="alert" id="error"{fld}{hidden}>{escape(message)}</div>'


def _radio(name: str, label: str, checked: bool = False) -> str:
    state = "true" if checked else "false"
    return (f'<tp-yt-paper-radio-button name="{name}" role="radio" aria-checked="{state}" tabindex="0">'
            f'{escape(label)}</tp-yt-paper-radio-button>')


# ------------------------------------------------------------------------------------------ logins
def tiktok_login(action: str, next_path: str, error: str = "", username: str = "") -> str:
    body = (
        '<h1>Log in</h1>' + alert(error)
        + f'<form method="post" action="{escape(action)}"><input type="hidden" name="next" value="{escape(next_path)}">'
        '<div><a href="#">Log in with phone</a></div>'
        f'<input name="username" type="text" placeholder="Email or username" value="{escape(username)}">'
        '<input name="password" type="password" placeholder="Password" autocomplete="current-password">'
        '<button type="submit" data-e2e="login-button">Log in</button></form>')
    return doc("Log in | TikTok", body, {"site": "tiktok-login"})


def google_login(action: str, next_path: str, error: str = "", username: str = "") -> str:
    """Google's two-step sign-in: the identifier, Next, then the password, Next (one form, two views)."""
    pw_hidden = "" if username else " hidden"
    id_hidden = " hidden" if username else ""
    body = (
        '<h1 id="headingText">Sign in</h1>' + alert(error)
        + f'<form method="post" action="{escape(action)}" id="signin" novalidate>'
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        f'<div data-view="identifier"{id_hidden}><label for="identifierId">Email or phone</label>'
        f'<input type="email" id="identifierId" name="identifier" autocomplete="username" value="{escape(username)}">'
        '<div id="identifierNext" role="button" tabindex="0">Next</div></div>'
        f'<div data-view="password"{pw_hidden}><label>Enter your password'
        '<input type="password" name="Passwd" autocomplete="current-password">'
        '</label><button type="submit" id="passwordNext">Next</button></div></form>')
    return doc("Sign in - Google Accounts", body, {"site": "google-login"})


def instagram_login(action: str, next_path: str, error: str = "", username: str = "") -> str:
    body = (
        alert(error)
        + f'<form method="post" action="{escape(action)}" id="loginForm">'
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        f'<input name="username" aria-label="Phone number, username, or email" value="{escape(username)}">'
        '<input name="password" type="password" aria-label="Password">'
        '<button type="submit">Log in</button></form>')
    return doc("Login • Instagram", body, {"site": "instagram-login"})


# ------------------------------------------------------------------------------------ upload pages
def _page_data(site: str, api: str, login: str) -> dict[str, str]:
    return {"site": site, "api": api, "login": login}


def tiktok_upload(api: str, login: str, account: str, profile_url: str, content: str) -> str:
    body = (
        f'<header><a href="{escape(content)}">TikTok Studio</a> '
        f'<a aria-label="Profile" href="{escape(profile_url)}">@{escape(account)}</a></header>'
        '<main><h1>Upload video</h1>' + alert()
        + '<div class="upload-card"><input type="file" accept="video/*" aria-label="Select video">'
        '<button type="button" data-e2e="select_video_button">Select video</button></div>'
        '<div class="info-status"><span data-upload-status data-done-text="Uploaded"></span></div>'
        '<div data-after-upload hidden><h2 id="caption-label">Description</h2>'
        '<div class="caption-editor"><div class="public-DraftEditor-content" contenteditable="true" role="combobox"'
        ' aria-labelledby="caption-label" aria-expanded="false" data-caption></div></div>'
        '<label>Who can watch this video <select data-visibility><option>Everyone</option><option>Friends</option>'
        '<option>Only you</option></select></label>'
        '<fieldset><legend>When to post</legend>'
        '<label><input type="radio" name="postTime" value="now" checked> Now</label>'
        '<label><input type="radio" name="postTime" value="schedule" data-schedule-toggle> Schedule</label>'
        '<div data-schedule hidden><label>Date <input type="date" data-date></label>'
        '<label>Time <input type="time" data-time></label></div></fieldset>'
        '<button type="button" data-e2e="post_video_button" data-post disabled>Post</button></div>'
        f'<div role="dialog" aria-modal="true" data-confirmation hidden><p>Your video has been uploaded</p>'
        f'<a href="{escape(content)}">Manage your posts</a></div></main>')
    return doc("TikTok Studio", body, _page_data("tiktok", api, login))


def youtube_upload(api: str, login: str, channel: str, content: str) -> str:
    steps = ("Details", "Video elements", "Checks", "Visibility")
    stepper = "".join(f'<button type="button" role="tab" data-step-tab="{i}">{s}</button>' for i, s in enumerate(steps))
    body = (
        f'<header><a href="{escape(content)}">Channel content</a> <span id="channel-title">{escape(channel)}</span>'
        '</header><ytcp-uploads-dialog role="dialog" aria-label="Upload videos">'
        '<h1 id="dialog-title">Upload videos</h1>' + alert()
        + '<div data-step="select"><input type="file" name="Filedata" accept="video/*">'
        '<ytcp-button id="select-files-button" role="button" tabindex="0">Select files</ytcp-button></div>'
        f'<div data-after-upload hidden><nav>{stepper}</nav>'
        '<section data-step="0"><h2>Details</h2><div id="title-textarea"><div id="textbox" contenteditable="true"'
        ' role="textbox" aria-label="Add a title that describes your video (type @ to mention a channel)"'
        ' data-title></div></div><div id="description-textarea"><div id="textbox" contenteditable="true"'
        ' role="textbox" aria-label="Tell viewers about your video (type @ to mention a channel)"'
        ' data-description></div></div><div role="radiogroup" aria-label="Audience">'
        + _radio("VIDEO_MADE_FOR_KIDS_MFK", "Yes, it's made for kids")
        + _radio("VIDEO_MADE_FOR_KIDS_NOT_MFK", "No, it's not made for kids") + '</div>'
        '<ytcp-button id="toggle-button" role="button" tabindex="0" data-reveal="tags">Show more</ytcp-button>'
        '<div data-revealed="tags" hidden><input id="text-input" aria-label="Tags" placeholder="Add tag" data-tags>'
        '</div></section><section data-step="1" hidden><h2>Video elements</h2></section>'
        '<section data-step="2" hidden><h2>Checks</h2><p>Checks complete. No issues found.</p></section>'
        '<section data-step="3" hidden><h2>Visibility</h2><div role="radiogroup" aria-label="Save or publish">'
        + _radio("PRIVATE", "Private", True) + _radio("UNLISTED", "Unlisted") + _radio("PUBLIC", "Public")
        + '</div><ytcp-button id="second-container-expand-button" role="button" tabindex="0" data-reveal="schedule">'
        'Schedule</ytcp-button><div data-revealed="schedule" hidden><label>Date <input type="date" data-date>'
        '</label><label>Time <input type="time" data-time></label></div></section></div>'
        '<footer><span class="progress-label" data-upload-status data-done-text="Upload complete"></span>'
        '<div class="video-url-fadeable"><span>Video link</span> <a class="ytcp-video-info" data-video-link></a></div>'
        '<ytcp-button id="back-button" role="button" tabindex="0">Back</ytcp-button>'
        '<ytcp-button id="next-button" role="button" tabindex="0" aria-disabled="true">Next</ytcp-button>'
        '<ytcp-button id="done-button" role="button" tabindex="0" aria-disabled="true" data-post hidden>Save'
        '</ytcp-button></footer></ytcp-uploads-dialog>'
        '<ytcp-video-share-dialog role="dialog" data-confirmation hidden><h2 data-confirmation-title></h2>'
        '<a id="share-url" data-share-link></a><ytcp-button id="close-button" role="button" tabindex="0">Close'
        '</ytcp-button></ytcp-video-share-dialog>')
    return doc("Channel content - YouTube Studio", body, _page_data("youtube", api, login))


def instagram_create(api: str, login: str, account: str, profile: str) -> str:
    body = (
        f'<nav><a href="{escape(profile)}">Profile</a> <a href="#" aria-label="New post">Create</a></nav>'
        '<div role="dialog" aria-label="Create new post"><h1 data-dialog-title>Create new post</h1>' + alert()
        + '<div data-step="select"><p>Drag photos and videos here</p>'
        '<input type="file" accept="image/jpeg,image/png,image/heic,image/heif,video/mp4,video/quicktime" multiple>'
        '<button type="button">Select from computer</button></div>'
        '<p data-upload-status data-done-text=""></p>'
        '<div role="dialog" data-reels-notice hidden><h2>Video posts are now shared as reels</h2>'
        '<button type="button" data-dismiss>OK</button></div>'
        '<div data-after-upload hidden><section data-step="0"><h2>Crop</h2></section>'
        '<section data-step="1" hidden><h2>Edit</h2></section>'
        '<section data-step="2" hidden><h2>New reel</h2><div aria-label="Write a caption..." contenteditable="true"'
        f' role="textbox" data-caption></div><p>@{escape(account)}</p></section>'
        '<div role="button" tabindex="0" data-next>Next</div>'
        '<div role="button" tabindex="0" data-post hidden>Share</div></div>'
        '<div data-confirmation hidden><h2>Reel shared</h2><p>Your reel has been shared.</p></div></div>')
    return doc("Instagram", body, _page_data("instagram", api, login))


# -------------------------------------------------------------------------------- where posts show
def tiktok_content(posts: Iterable[dict[str, Any]], upload: str) -> str:
    rows = "".join(
        f'<tr><td><a href="{escape(p["url"])}">{escape(p["caption"])}</a></td>'
        f'<td>{escape(p["status"].capitalize())}</td>'
        f'<td><time datetime="{escape(p["live_at"])}">{escape(p["live_at"])}</time></td></tr>' for p in posts)
    body = (f'<h1>Posts</h1><a href="{escape(upload)}">Upload</a><table><thead><tr><th>Post</th><th>Status</th>'
            f'<th>Date</th></tr></thead><tbody>{rows}</tbody></table>')
    return doc("TikTok Studio", body, {"site": "tiktok-content"})


def youtube_content(posts: Iterable[dict[str, Any]], upload: str) -> str:
    rows = "".join(
        f'<tr><td><a id="video-title" href="{escape(p["url"])}">{escape(p["caption"].split(chr(10))[0])}</a>'
        f'<div id="description">{escape(p["caption"])}</div></td><td>{escape(p["status"].capitalize())}</td>'
        f'<td><time datetime="{escape(p["live_at"])}">{escape(p["live_at"])}</time></td></tr>' for p in posts)
    body = (f'<h1>Channel content</h1><a href="{escape(upload)}">Create</a><table><thead><tr><th>Video</th>'
            f'<th>Visibility</th><th>Date</th></tr></thead><tbody>{rows}</tbody></table>')
    return doc("Channel content - YouTube Studio", body, {"site": "youtube-content"})


def instagram_profile(account: str, tiles: Iterable[str]) -> str:
    grid = "".join(f'<a href="{escape(href)}" role="link"><div>Reel</div></a>' for href in tiles)
    body = f'<header><h2>{escape(account)}</h2></header><main><div role="tablist">Reels</div>{grid}</main>'
    return doc(f"{account} • Instagram reels", body, {"site": "instagram-profile"})


def instagram_post(p: dict[str, Any]) -> str:
    head = f'<meta property="og:url" content="{escape(p["url"])}">'
    body = (f'<article><h1 style="white-space:pre-wrap">{escape(p["caption"])}</h1>'
            f'<time datetime="{escape(p["live_at"])}">{escape(p["live_at"])}</time>'
            f'<span data-status>{escape(p["status"])}</span></article>')
    return doc("Instagram", body, {"site": "instagram-post"}, head)
