"""The sandbox's web upload site (/web/...), driven over real loopback HTTP with httpx (no browser)."""

from __future__ import annotations

import hashlib
import re
import sqlite3
import time
from datetime import timedelta
from html import unescape

import httpx
import pytest

from actp_pipeline.sandbox import SandboxServer, WorldConfig
from tests import sandbox_posts
from tests.sandbox.conftest import sandbox_config

USER, PASSWORD = "creator", "sandbox-pass"


def _client(server) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30, follow_redirects=False)


def _login(client: httpx.Client, username: str = USER, password: str = PASSWORD, **extra) -> httpx.Response:
    return client.post("/web/login", data={"username": username, "password": password, **extra})


@pytest.fixture
def web(sandbox):
    with _client(sandbox) as c:
        assert _login(c).status_code == 303
        yield c


def _form(key: str | None = "web-1", **kw) -> dict:
    data = {"caption": "Try this\r\nroutine", "hashtags": "#skincare  #routine", "platform": "tiktok",
            "account": "main", "scheduled_at": ""}
    if key is not None:
        data["idempotency_key"] = key
    data.update(kw)
    return data


def _upload(client: httpx.Client, data: dict, video: bytes | None, filename: str = "clip.mp4") -> httpx.Response:
    files = {"video": (filename, video, "video/mp4")} if video is not None else None
    if files is None:  # still multipart, with text parts only
        files = {"unrelated": ("notes.txt", b"", "text/plain")}
    return client.post("/web/upload", data=data, files=files)


def _element(html: str, element_id: str) -> str:
    """The text of the element with this id (inner tags dropped)."""
    m = re.search(rf'<(\w+)[^>]*\bid="{re.escape(element_id)}"[^>]*>(.*?)</\1>', html, re.S)
    assert m, f"no element #{element_id} in the page:\n{html[:2000]}"
    return unescape(re.sub(r"<[^>]+>", "", m.group(2)))


def _attr(html: str, element_id: str, attr: str) -> str:
    tag = re.search(rf'<[^>]*\bid="{re.escape(element_id)}"[^>]*>', html).group(0)
    return unescape(re.search(rf'\b{attr}="([^"]*)"', tag).group(1))


def _html_error(resp: httpx.Response, status: int, field: str) -> str:
    assert resp.status_code == status, resp.text[:2000]
    assert resp.headers["content-type"].startswith("text/html")
    text = _element(resp.text, "error")
    assert field in text, text
    assert _attr(resp.text, "error", "data-field") == field
    return text


def _truth_posts(server) -> list[dict]:
    return httpx.get(server.url + "/sandbox/truth/posts", headers={"X-Truth-Token": server.truth_token}).json()["items"]


def _truth_post(server, post_id: str) -> dict:
    """The ground truth's record of one post (caption, platform, account, live_at, create_calls, ...)."""
    [post] = [p for p in _truth_posts(server) if p["post_id"] == post_id]
    return post


def _media_of(server, post_id: str) -> dict:
    """The kept video behind a post (the sandbox's state: no route serves the media records)."""
    return server.state.get_media(server.state.get_post(post_id)["media_id"])


# ----------------------------------------------------------------------------- login and session
def test_pages_without_a_session_redirect_to_login(sandbox):
    with _client(sandbox) as c:
        for path in ("/web/upload", "/web/posts", "/web/posts/p_x", "/web"):
            resp = c.get(path)
            assert resp.status_code == 303, path
            loc = resp.headers["location"]
            assert loc.startswith("/web/login") or (path == "/web" and loc == "/web/upload")
        assert c.get("/web/upload").headers["location"] == "/web/login?next=/web/upload"
        page = c.get("/web/login?next=/web/upload")
        assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
        for element_id in ("username", "password", "submit"):
            assert f'id="{element_id}"' in page.text
        assert 'type="password"' in page.text and 'id="error"' not in page.text


@pytest.mark.parametrize("username,password", [(USER, "wrong"), ("nobody", PASSWORD), ("", ""), (USER, "")])
def test_bad_credentials_are_a_401_page_with_an_error(sandbox, username, password):
    with _client(sandbox) as c:
        resp = _login(c, username, password)
        assert resp.status_code == 401
        assert "set-cookie" not in resp.headers
        assert "wrong username or password" in _element(resp.text, "error")
        assert c.get("/web/upload").status_code == 303  # still logged out
    assert sandbox.api.web.login_count() == 0
    assert sandbox.state.get_meta("web_login_failures") == "1"


def test_login_sets_a_random_httponly_session_cookie(sandbox):
    cookies = []
    for _ in range(2):
        with _client(sandbox) as c:
            resp = _login(c, next="/web/upload")
            assert resp.status_code == 303 and resp.headers["location"] == "/web/upload"
            set_cookie = resp.headers["set-cookie"]
            assert "HttpOnly" in set_cookie and "Path=/web" in set_cookie and "SameSite=Lax" in set_cookie
            cookies.append(c.cookies["actp_session"])
            assert c.get("/web/upload").status_code == 200
    assert cookies[0] != cookies[1] and len(cookies[0]) >= 40
    assert sandbox.api.web.login_count() == 2
    # the state keeps only a digest of the token
    rows = sandbox.state._conn.execute("SELECT token_sha256 FROM web_sessions").fetchall()
    assert len(rows) == 2 and all(cookies[0] not in r[0] and cookies[1] not in r[0] for r in rows)


@pytest.mark.parametrize("next_path", ["https://evil.example/", "//evil.example/web/", "/sandbox/truth/posts", "/web\\x"])
def test_login_never_redirects_off_the_site(sandbox, next_path):
    with _client(sandbox) as c:
        assert _login(c, next=next_path).headers["location"] == "/web/upload"


def test_forged_and_expired_sessions_are_refused(sandbox):
    with _client(sandbox) as c:
        c.cookies.set("actp_session", "forged-token", domain="127.0.0.1", path="/web")
        assert c.get("/web/upload").status_code == 303
    with _client(sandbox) as c:
        _login(c)
        assert c.get("/web/upload").status_code == 200
        ttl = sandbox.config.web_session_ttl_s
        sandbox.api.web.wall_clock = lambda: time.time() + ttl + 1
        assert c.get("/web/upload").headers["location"].startswith("/web/login")
        _login(c)  # a new login works at the new time
        assert c.get("/web/upload").status_code == 200


def test_logout_ends_the_session(web):
    assert web.get("/web/upload").status_code == 200
    resp = web.post("/web/logout")
    assert resp.status_code == 303 and resp.headers["location"] == "/web/login"
    web.cookies.clear()
    assert web.get("/web/upload").status_code == 303


def test_sessions_survive_a_restart_with_the_state_file(tmp_path):
    state = tmp_path / "sandbox.sqlite"
    with SandboxServer(sandbox_config(), state_path=state) as server, _client(server) as c:
        _login(c)
        token = c.cookies["actp_session"]
    with SandboxServer(sandbox_config(), state_path=state) as server, _client(server) as c:
        c.cookies.set("actp_session", token, domain="127.0.0.1", path="/web")
        assert c.get("/web/upload").status_code == 200
        assert server.api.web.login_count() == 1
    with SandboxServer(sandbox_config(web_users={"someone": "else"}), state_path=state) as server, _client(server) as c:
        c.cookies.set("actp_session", token, domain="127.0.0.1", path="/web")
        assert c.get("/web/upload").status_code == 303  # the user is gone from the config


def test_upload_form_has_every_field_and_the_worlds_accounts():
    accounts = {"tiktok": ["main", "brand_two"], "instagram": ["main"], "youtube": ["shorts"]}
    with SandboxServer(sandbox_config(accounts=accounts)) as server, _client(server) as c:
        _login(c)
        page = c.get("/web/upload").text
    assert 'enctype="multipart/form-data"' in page
    assert re.search(r'<input type="file" name="video" id="video" accept="video/mp4"', page)
    for name in ("caption", "hashtags", "platform", "account", "idempotency_key", "scheduled_at"):
        assert f'name="{name}" id="{name}"' in page or f'name="{name}"' in page and f'id="{name}"' in page
    assert re.search(r'<textarea name="caption" id="caption">', page)
    assert re.search(r'<button type="submit" id="submit">', page)
    account_select = re.search(r'<select name="account" id="account">(.*?)</select>', page).group(1)
    assert re.findall(r'value="([^"]+)"', account_select) == ["main", "brand_two", "shorts"]
    platform_select = re.search(r'<select name="platform" id="platform">(.*?)</select>', page).group(1)
    assert re.findall(r'value="([^"]+)"', platform_select) == list(server.config.platforms)


# -------------------------------------------------------------------------------------- upload
def test_upload_a_real_mp4_through_the_form(sandbox, web, mp4_with_descriptor):
    path, variant = mp4_with_descriptor
    resp = _upload(web, _form("web-1"), path.read_bytes())
    assert resp.status_code == 303, resp.text
    post_id = resp.headers["location"].rsplit("/", 1)[1]
    page = web.get(resp.headers["location"])
    assert page.status_code == 200
    assert _element(page.text, "post-id") == post_id
    truth = _truth_post(sandbox, post_id)
    assert _attr(page.text, "post-url", "href") == _element(page.text, "post-url") == \
        f"https://sandbox.actp.local/tiktok/@main/video/{post_id}"
    assert _attr(page.text, "live-at", "datetime") == truth["live_at"] == "2025-03-01T12:00:00Z"
    assert _element(page.text, "idempotency-key") == "web-1" == truth["idempotency_key"]
    assert truth["caption"] == "Try this\nroutine"  # the browser's CRLF line breaks are normalised
    assert sandbox.state.get_post(post_id)["hashtags"] == ["#skincare", "#routine"]
    assert (truth["platform"], truth["account"], truth["create_calls"]) == ("tiktok", "main", 1)
    assert truth["variant_id"] == variant["variant_id"]  # decoded like every dialect's upload
    media = _media_of(sandbox, post_id)
    assert media["bytes"] == path.stat().st_size and media["width"] == 108
    # a post of the world like any other: its counts grow on the simulated clock
    metrics = lambda: httpx.get(sandbox.url + "/sandbox/truth/metrics", params={"post_id": post_id},  # noqa: E731
                                headers={"X-Truth-Token": sandbox.truth_token}).json()
    assert metrics()["status"] == "live" and metrics()["views"] == 0
    httpx.post(sandbox.url + "/sandbox/clock/advance", json={"hours": 6}).raise_for_status()
    assert metrics()["views"] > 0


def test_scheduled_upload_goes_live_later(sandbox, web, mp4_with_descriptor):
    resp = _upload(web, _form("web-sched", scheduled_at="2025-03-02T18:00:00Z", platform="youtube"),
                   mp4_with_descriptor[0].read_bytes())
    page = web.get(resp.headers["location"]).text
    assert _attr(page, "live-at", "datetime") == "2025-03-02T18:00:00Z"
    assert _element(page, "status") == "scheduled"
    post_id = resp.headers["location"].rsplit("/", 1)[1]
    assert _truth_post(sandbox, post_id)["live_at"] == "2025-03-02T18:00:00Z"


def test_replay_through_the_form_creates_no_second_post(sandbox, web, mp4_with_descriptor, mp4_other_descriptor):
    first = _upload(web, _form("web-replay"), mp4_with_descriptor[0].read_bytes())
    again = _upload(web, _form("web-replay", caption="other caption"), mp4_other_descriptor[0].read_bytes())
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    # the truth sees one post, the replay counted, and the first post's caption and video stand
    [post] = _truth_posts(sandbox)
    assert first.headers["location"].endswith("/" + post["post_id"]) and post["create_calls"] == 2
    assert post["caption"] == "Try this\nroutine"
    assert _media_of(sandbox, post["post_id"])["bytes"] == mp4_with_descriptor[0].stat().st_size


def test_a_post_made_through_a_dialect_is_returned_by_the_form(sandbox, web, tmp_path, mp4_with_descriptor):
    """The form and the dialects share one post per key: a form sent with the key TikTok's publish got is
    that post, not a second one."""
    made = sandbox_posts.publish(sandbox.url, sandbox.config.api_keys[0], mp4_with_descriptor[0], tmp_path,
                                 platform="tiktok", idempotency_key="dialect-first")
    key = _truth_post(sandbox, made["sandbox_post_id"])["idempotency_key"]
    assert key == f"tiktok:{made['post_id']}"  # TikTok's publish id
    resp = _upload(web, _form(key), mp4_with_descriptor[0].read_bytes())
    assert resp.headers["location"] == f"/web/posts/{made['sandbox_post_id']}"
    assert [p["create_calls"] for p in _truth_posts(sandbox)] == [2]
    listing = web.get("/web/posts", params={"idempotency_key": key}).text
    assert re.findall(r'<li class="post"[^>]*data-post-id="([^"]+)"', listing) == [made["sandbox_post_id"]]


def test_upload_streamed_with_chunked_encoding(sandbox, web, mp4_with_descriptor):
    req = web.build_request("POST", "/web/upload", data=_form("web-chunked"),
                            files={"video": ("a.mp4", mp4_with_descriptor[0].read_bytes(), "video/mp4")})
    body = req.read()

    def pieces():
        for i in range(0, len(body), 777):
            yield body[i : i + 777]

    resp = web.post("/web/upload", content=pieces(), headers={"Content-Type": req.headers["content-type"]})
    assert resp.status_code == 303, resp.text
    assert len(_truth_posts(sandbox)) == 1


@pytest.mark.parametrize("content", [b"not a video at all", b"\x00" * 4096, b"GIF89a" + b"\x00" * 64])
def test_a_file_that_is_not_an_mp4_is_a_4xx_page_naming_the_video(sandbox, web, content):
    resp = _upload(web, _form("web-bad"), content)
    text = _html_error(resp, 415, "video")
    assert "MP4" in text
    assert _truth_posts(sandbox) == []


def test_a_truncated_mp4_is_refused(sandbox, web, mp4_with_descriptor):
    data = mp4_with_descriptor[0].read_bytes()
    resp = _upload(web, _form("web-trunc"), data[: len(data) // 3])
    assert resp.status_code in (415, 422)
    _html_error(resp, resp.status_code, "video")
    assert _truth_posts(sandbox) == []


@pytest.mark.parametrize("change,field,status", [
    ({"idempotency_key": ""}, "idempotency_key", 400),
    ({"idempotency_key": None}, "idempotency_key", 400),
    ({"platform": ""}, "platform", 400),
    ({"platform": "myspace"}, "platform", 400),
    ({"account": "nobody"}, "account", 404),
    ({"scheduled_at": "tomorrow"}, "scheduled_at", 400),
    ({"caption": "x" * 5001}, "caption", 400),
])
def test_missing_or_bad_fields_name_the_field(sandbox, web, mp4_with_descriptor, change, field, status):
    data = _form("web-field")
    for k, v in change.items():
        if v is None:
            data.pop(k)
        else:
            data[k] = v
    _html_error(_upload(web, data, mp4_with_descriptor[0].read_bytes()), status, field)
    assert _truth_posts(sandbox) == []


def test_a_missing_or_empty_video_names_the_video(sandbox, web):
    _html_error(_upload(web, _form("no-video"), None), 400, "video")
    _html_error(_upload(web, _form("empty-video"), b"", filename=""), 400, "video")
    assert _truth_posts(sandbox) == []


def test_the_form_must_be_multipart(web):
    resp = web.post("/web/upload", data=_form("urlencoded"))
    _html_error(resp, 415, "Content-Type")


def test_a_malformed_multipart_body_is_a_400(web):
    headers = {"Content-Type": "multipart/form-data; boundary=XYZ"}
    for body in (b"no boundary here", b"--XYZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated",
                 b"--XYZ\r\nX-Nothing: 1\r\n\r\nv\r\n--XYZ--\r\n"):
        resp = web.post("/web/upload", content=body, headers=headers)
        assert resp.status_code == 400, resp.text
        assert "multipart" in _element(resp.text, "error")


def test_upload_larger_than_the_limit_is_a_413(mp4_with_descriptor):
    with SandboxServer(sandbox_config(max_upload_bytes=1000)) as server, _client(server) as c:
        _login(c)
        resp = _upload(c, _form("big"), mp4_with_descriptor[0].read_bytes())
        _html_error(resp, 413, "video")
        assert _truth_posts(server) == []


def test_upload_needs_a_session(sandbox, mp4_with_descriptor):
    with _client(sandbox) as c:
        resp = _upload(c, _form("anonymous"), mp4_with_descriptor[0].read_bytes())
        assert resp.status_code == 303 and resp.headers["location"].startswith("/web/login")
    assert _truth_posts(sandbox) == []


# --------------------------------------------------------------------------------------- posts
def test_post_pages_and_the_lookup_by_key(sandbox, web, mp4_with_descriptor):
    loc = _upload(web, _form("web-list"), mp4_with_descriptor[0].read_bytes()).headers["location"]
    post_id = loc.rsplit("/", 1)[1]
    listing = web.get("/web/posts", params={"idempotency_key": "web-list"})
    assert listing.status_code == 200
    assert re.findall(r'<li class="post"[^>]*data-post-id="([^"]+)"', listing.text) == [post_id]
    assert 'data-idempotency-key="web-list"' in listing.text
    none = web.get("/web/posts", params={"idempotency_key": "never"})
    assert 'id="no-posts"' in none.text and 'class="post"' not in none.text
    assert len(re.findall(r'<li class="post"', web.get("/web/posts").text)) == 1
    _html_error(web.get("/web/posts/p_missing"), 404, "post_id")


# ---------------------------------------------------------------- the studio copies (web_studio.py)
def _studio_post(web: httpx.Client, api: str, video: bytes, **fields) -> tuple[dict, dict]:
    """Upload through a studio copy's JSON calls, then post: (the upload's answer, the post's answer)."""
    up = web.post(f"{api}/upload", files={"video": ("clip.mp4", video, "video/mp4")})
    assert up.status_code == 200, up.text
    resp = web.post(f"{api}/post", json={"upload_id": up.json()["upload_id"], **fields})
    assert resp.status_code == 200, resp.text
    return up.json(), resp.json()


YT_FIELDS = {"title": "Try this", "description": "a routine", "tags": ["skincare"],
             "made_for_kids": "VIDEO_MADE_FOR_KIDS_NOT_MFK", "visibility": "PUBLIC"}


def test_the_studio_copies_show_each_platforms_public_link(sandbox, web, mp4_with_descriptor):
    """TikTok Studio, YouTube Studio and Instagram show the platform's own link with the id the sandbox's
    dialect of that platform knows the post by (the truth names it `public_id`); the generic form keeps the
    sandbox's own link (test_upload_a_real_mp4_through_the_form)."""
    video = mp4_with_descriptor[0].read_bytes()
    _, tt = _studio_post(web, "/web/tiktokstudio/api", video, caption="tt #skincare", visibility="Everyone")
    _, ig = _studio_post(web, "/web/instagram/api", video, caption="ig #skincare")
    truth = {p["platform"]: p for p in _truth_posts(sandbox)}
    assert re.fullmatch(r"7\d{18}", tt["post_id"]) and tt["status"] == "live"
    assert tt["url"] == f"https://www.tiktok.com/@main/video/{tt['post_id']}" and truth["tiktok"]["public_id"] == \
        tt["post_id"]
    assert f'href="{tt["url"]}"' in web.get("/web/tiktokstudio/content").text
    assert 'href="https://www.tiktok.com/@main"' in web.get("/web/tiktokstudio/upload").text
    key = {"Authorization": f"Bearer {sandbox.config.api_keys[0]}"}
    videos = httpx.post(sandbox.url + "/v2/video/query/", params={"fields": "id,share_url,view_count"}, headers=key,
                        json={"filters": {"video_ids": [tt["post_id"]]}}).json()["data"]["videos"]
    assert [v["id"] for v in videos] == [tt["post_id"]]  # TikTok's Display API knows the id the page shows
    # Instagram: the profile's grid links to the reel by its shortcode; its page's og:url is instagram.com's
    code = truth["instagram"]["public_id"]
    assert ig["post_id"] == code and ig["url"] == f"https://www.instagram.com/reel/{code}/"
    assert f'href="/web/instagram/reel/{code}/"' in web.get("/web/instagram/main/reels").text
    reel = web.get(f"/web/instagram/reel/{code}/")
    assert reel.status_code == 200 and f'content="{ig["url"]}"' in reel.text
    assert web.get("/web/instagram/reel/Cnothere000").status_code == 404
    assert web.get(f"/web/instagram/reel/{truth['instagram']['post_id']}").status_code == 404  # no sandbox ids
    graph = httpx.get(sandbox.url + "/graph/v21.0/me/media", params={"fields": "id,shortcode,permalink"},
                      headers=key).json()["data"]
    assert [(m["shortcode"], m["permalink"]) for m in graph] == [(code, ig["url"])]


def test_a_youtube_studio_upload_is_a_video_of_the_data_api(sandbox, web, mp4_with_descriptor):
    """The link YouTube Studio shows while uploading is the video's (youtu.be/<id>), and the published video is
    a video of the YouTube dialect: videos.list finds it with its statistics, the channel's uploads list it."""
    video = mp4_with_descriptor[0].read_bytes()
    up, yt = _studio_post(web, "/web/youtube-studio/api", video, **YT_FIELDS)
    assert re.fullmatch(r"[A-Za-z0-9_-]{11}", yt["post_id"]) and yt["status"] == "live"
    assert up["url"] == yt["url"] == f"https://youtu.be/{yt['post_id']}"
    [truth] = _truth_posts(sandbox)
    assert truth["public_id"] == yt["post_id"] and truth["caption"] == "Try this\na routine"
    assert f'href="{yt["url"]}"' in web.get("/web/youtube-studio/channel/main/videos").text
    key = {"Authorization": f"Bearer {sandbox.config.api_keys[0]}"}

    def listed() -> dict:
        resp = httpx.get(sandbox.url + "/youtube/v3/videos", headers=key,
                         params={"part": "snippet,status,statistics,processingDetails", "id": yt["post_id"]})
        [item] = resp.json()["items"]
        return item

    item = listed()
    assert (item["snippet"]["title"], item["snippet"]["tags"]) == ("Try this", ["skincare"])
    assert item["status"]["privacyStatus"] == "public" and item["processingDetails"]["processingStatus"] == "succeeded"
    httpx.post(sandbox.url + "/sandbox/clock/advance", json={"hours": 6}).raise_for_status()
    views = sandbox_posts.truth_metrics(sandbox.url, truth["post_id"])["views"]
    assert int(listed()["statistics"]["viewCount"]) == views > 0
    uploads = httpx.get(sandbox.url + "/youtube/v3/channels", headers=key,
                        params={"part": "contentDetails", "mine": "true"}).json()["items"][0]
    playlist = uploads["contentDetails"]["relatedPlaylists"]["uploads"]
    page = httpx.get(sandbox.url + "/youtube/v3/playlistItems", headers=key,
                     params={"part": "contentDetails", "playlistId": playlist}).json()
    assert [i["contentDetails"]["videoId"] for i in page["items"]] == [yt["post_id"]]
    # posting the same upload again is the same video; a schedule makes it private until publishAt
    again = web.post("/web/youtube-studio/api/post", json={"upload_id": up["upload_id"], **YT_FIELDS}).json()
    assert again == {**yt, "status": "live"} and len(_truth_posts(sandbox)) == 1
    _, later = _studio_post(web, "/web/youtube-studio/api", video, **{**YT_FIELDS, "visibility": "PRIVATE",
                                                                       "schedule": "2025-03-03T18:30:00.000Z"})
    assert later["status"] == "scheduled" and later["live_at"] == "2025-03-03T18:30:00Z"
    status = httpx.get(sandbox.url + "/youtube/v3/videos", headers=key,
                       params={"part": "status", "id": later["post_id"]}).json()["items"][0]["status"]
    assert (status["privacyStatus"], status["publishAt"]) == ("private", "2025-03-03T18:30:00Z")


STUDIO_POSTS = {"tiktok": ("/web/tiktokstudio/api", {"caption": "tt #skincare", "visibility": "Everyone"}),
                "youtube": ("/web/youtube-studio/api", YT_FIELDS),
                "instagram": ("/web/instagram/api", {"caption": "ig #skincare"})}


@pytest.mark.parametrize("platform", list(STUDIO_POSTS))
def test_a_studio_post_is_measured_by_its_platforms_native_reader(platform, sandbox, web, tmp_path,
                                                                  mp4_with_descriptor):
    """The id a studio page gives is the one the platform's native metrics reader measures the post by (no
    browser needed: the pages' JSON calls); an unknown id of the same shape is unknown, never 0."""
    api, fields = STUDIO_POSTS[platform]
    _, made = _studio_post(web, api, mp4_with_descriptor[0].read_bytes(), **fields)
    [truth] = _truth_posts(sandbox)
    assert truth["public_id"] == made["post_id"] != truth["post_id"]
    httpx.post(sandbox.url + "/sandbox/clock/advance", json={"hours": 6}).raise_for_status()
    never = {"tiktok": "7000000000000000001", "youtube": "AAAAAAAAAAA", "instagram": "Cdeadbeef00"}[platform]
    reader = sandbox_posts.native(sandbox.url, sandbox.config.api_keys[0], tmp_path)
    try:
        got = reader.metrics_for(platform, "main", [never, made["post_id"]])
    finally:
        reader.close()
    assert got["unknown"] == [never] and got["pending"] == []
    [item] = got["items"]
    counts = sandbox_posts.truth_metrics(sandbox.url, truth["post_id"])
    assert item["post_id"] == made["post_id"] and item["views"] == counts["views"] > 0
    assert (item["likes"], item["comments"]) == (counts["likes"], counts["comments"])


def test_after_login_the_site_returns_to_the_page_asked_for(sandbox):
    with _client(sandbox) as c:
        first = c.get("/web/posts", params={"idempotency_key": "k 1"})
        target = first.headers["location"]
        assert target == "/web/login?next=/web/posts%3Fidempotency_key%3Dk%2B1"
        nxt = httpx.URL(target).params["next"]
        assert _login(c, next=nxt).headers["location"] == "/web/posts?idempotency_key=k+1"


def test_web_errors_are_html_and_api_errors_stay_json(sandbox, web):
    resp = web.get("/web/nothing-here")
    assert resp.status_code == 404 and resp.headers["content-type"].startswith("text/html")
    assert 'id="error"' in resp.text
    resp = web.delete("/web/upload")
    assert resp.status_code == 405 and "GET, POST" in resp.headers["allow"]
    for path in ("/sandbox/nothing-here", "/v1/posts", "/v2/nothing-here"):  # /v1 is gone like any unknown path
        api = httpx.get(sandbox.url + path)
        assert api.status_code == 404 and api.headers["content-type"] == "application/json"
        assert api.json()["error"]["message"]


# ------------------------------------------------------------------------------ the form parser
@pytest.mark.parametrize("piece", [1, 2, 3, 5, 64, 4096, 1 << 20])
def test_the_form_streams_at_any_chunk_size(sandbox, web, mp4_with_descriptor, piece):
    """Boundary-like bytes inside the video, a non-ASCII caption, an empty field and a file part the form
    does not know: the video arrives byte for byte whatever the chunking."""
    video = mp4_with_descriptor[0].read_bytes() + b"\r\n--" + bytes(range(256)) * 40 + b"\r\n--almost-a-boundary\r\n"
    req = web.build_request("POST", "/web/upload", data={**_form(f"piece-{piece}", caption="é\r\nx"), "empty": ""},
                            files={"video": ("a.mp4", video, "video/mp4"), "other": ("b.bin", b"drop me", "x/y")})
    body = req.read()
    pieces = (body[i : i + piece] for i in range(0, len(body), piece))
    resp = web.post("/web/upload", content=pieces, headers={"Content-Type": req.headers["content-type"]})
    assert resp.status_code == 303, resp.text
    post_id = resp.headers["location"].rsplit("/", 1)[1]
    assert _truth_post(sandbox, post_id)["caption"] == "é\nx"
    media = _media_of(sandbox, post_id)
    assert media["bytes"] == len(video) and media["sha256"] == hashlib.sha256(video).hexdigest()


def test_the_form_refuses_repeated_fields(sandbox, web):
    body = (b'--B\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n'
            b'--B\r\nContent-Disposition: form-data; name="a"\r\n\r\n2\r\n--B--\r\n')
    resp = web.post("/web/upload", content=body, headers={"Content-Type": "multipart/form-data; boundary=B"})
    assert "given more than once" in _html_error(resp, 400, "a")
    assert _truth_posts(sandbox) == []


def test_a_part_header_cannot_smuggle_a_field(sandbox, web, mp4_with_descriptor):
    """A header line inside a part is not a new part: the text stays the caption's."""
    req = web.build_request("POST", "/web/upload", data=_form("smuggle", caption="a\r\nContent-Disposition: form-data; "
                                                                  'name="platform"\r\n\r\nyoutube'),
                            files={"video": ("a.mp4", mp4_with_descriptor[0].read_bytes(), "video/mp4")})
    resp = web.post("/web/upload", content=req.read(), headers={"Content-Type": req.headers["content-type"]})
    assert resp.status_code == 303, resp.text
    post = _truth_post(sandbox, resp.headers["location"].rsplit("/", 1)[1])
    assert post["platform"] == "tiktok" and post["caption"].endswith("youtube")


def test_text_fields_have_a_size_limit_and_must_be_utf8(sandbox, web):
    for value, message in ((b"x" * (64 * 1024 + 1), "longer than"), (b"\xff\xfe", "not UTF-8")):
        body = (b'--B\r\nContent-Disposition: form-data; name="caption"\r\n\r\n' + value + b"\r\n--B--\r\n")
        resp = web.post("/web/upload", content=body, headers={"Content-Type": "multipart/form-data; boundary=B"})
        assert message in _html_error(resp, 400, "caption")


def test_concurrent_web_replays_create_one_post(sandbox, mp4_with_descriptor):
    import threading

    data = mp4_with_descriptor[0].read_bytes()
    results = []

    def go():
        with _client(sandbox) as c:
            _login(c)
            results.append(_upload(c, _form("web-race"), data).headers.get("location"))

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 4 and len(set(results)) == 1
    posts = _truth_posts(sandbox)
    assert len(posts) == 1 and posts[0]["create_calls"] == 4


def test_session_ttl_must_be_positive():
    with pytest.raises(ValueError):
        WorldConfig(web_session_ttl_s=0)
    assert WorldConfig().web_users == {"creator": "sandbox-pass"}
    assert WorldConfig().web_session_ttl_s == timedelta(hours=24).total_seconds()


def test_state_schema_upgrade_keeps_an_old_state_file(tmp_path):
    """A state file from before the web site gains its sessions table on open."""
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", ("marker", "x"))
    conn.commit()
    conn.close()
    with SandboxServer(sandbox_config(), state_path=path) as server, _client(server) as c:
        assert _login(c).status_code == 303
        assert server.state.get_meta("marker") == "x"  # upgraded in place, not replaced
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT value FROM meta WHERE key = 'marker'").fetchone() == ("x",)
    finally:
        conn.close()
