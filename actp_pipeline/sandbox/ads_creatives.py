"""The sandbox's ad creatives: a creative promotes one published post and carries url_tags, made by
POST /act_{acc}/adcreatives or inline by an ad's creative spec, never changed. Apart from the campaigns,
ad sets and ads because creatives are not rows of the ads tables but JSON per account in the state's
key-value table, with an owner key per creative (ads_world.read_creatives / write_creatives).

The post is named one of two ways, as on Meta:
- `object_story_id`: a published sandbox post (Publishing's post id; on Meta a Page post "<page id>_<post id>");
- `source_instagram_media_id` + `instagram_user_id` (Meta's way to promote an existing Instagram post; both
  required together): an IG media id the sandbox's Instagram side named (instagram_policy.media_record)
  and the IG user that owns it. The media is resolved to its sandbox post once, at creation, and stored
  as the creative's internal `object_story_id`, so delivery, insights and the ground truth follow that
  post exactly as they follow an object_story_id creative; reads never show it (`public_creative`,
  `public_ad_creative`): an Instagram creative reads as source_instagram_media_id, instagram_user_id,
  url_tags and effective_object_story_id.

Differences from Meta for Instagram creatives (known ones)
----------------------------------------------------------
- Meta's "use posts as ads" example also passes `object_id` (the Facebook Page linked to the IG account);
  the sandbox has no Pages and neither needs nor stores it.
- `call_to_action` {"type": one of CALL_TO_ACTION_TYPES, "value": {"link": an http(s) URL}} is checked
  (a bad one is Graph's 400, code 100) and stored with the creative, which shows it, as does an ad's
  creative{call_to_action}. The link is where the sandbox's paid visitors go (paid_traffic.py: Meta's
  url_tags and an fbclid appended). Other value keys (link_caption, app_link, ...) are not kept; a CTA
  without a link (Meta's NO_BUTTON, page CTAs) is refused: every sandbox CTA leads to a web page.
- `effective_object_story_id` is the sandbox post behind the media (Meta: the Page post it made for the
  ad, when a Page is linked); `effective_instagram_media_id` and `instagram_permalink_url` are not served.
- The deprecated `instagram_actor_id` is not accepted (Meta refuses it from v22.0 on).
- A media is known to the ads side once the Instagram side named it (publishing, listing or reading it);
  a reel made only through another dialect (the web form) and never seen through the Graph Instagram nodes is unknown (404).
- Ownership is the only permission checked: the token may promote any IG user's media it names with its
  owner (Meta: the ad account needs the IG account's advertise permission).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .ads_tables import AdsTables
from .ads_world import CREATIVE_OWNER_KEY, read_creatives, write_creatives
from .graph_errors import SUB_MISSING, SUB_UNKNOWN_OBJECT, GraphError, invalid
from .graph_params import MAX_NAME, param_json, param_str
from .instagram_policy import _DIGITS, media_record

INSTAGRAM_FIELDS = ("source_instagram_media_id", "instagram_user_id")
# call_to_action types that lead to a web page (a subset of Meta's AdCreative CallToActionType enum)
CALL_TO_ACTION_TYPES = ("SHOP_NOW", "LEARN_MORE", "BUY_NOW", "ORDER_NOW", "SIGN_UP", "SUBSCRIBE", "GET_OFFER",
                        "BOOK_NOW", "CONTACT_US", "APPLY_NOW", "DOWNLOAD", "WATCH_MORE", "SEE_MORE", "GET_QUOTE",
                        "OPEN_LINK", "VISIT_WEBSITE")
MAX_LINK = 2000


def public_creative(creative: Mapping[str, Any]) -> dict[str, Any]:
    """A stored creative as Graph shows it: an Instagram creative without its internal object_story_id."""
    if creative.get("source_instagram_media_id"):
        return {k: v for k, v in creative.items() if k != "object_story_id"}
    return dict(creative)


def public_ad_creative(link: Mapping[str, Any], creatives: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """An ad's creative link as Graph shows it (`creatives`: the account's stored creatives by id)."""
    stored = creatives.get(str(link.get("id")))
    cta = {"call_to_action": stored["call_to_action"]} if stored and stored.get("call_to_action") else {}
    if not stored or not stored.get("source_instagram_media_id"):
        return {**link, **cta}
    out = {**{k: v for k, v in link.items() if k != "object_story_id"}, **cta}
    out.update({k: stored[k] for k in (*INSTAGRAM_FIELDS, "effective_object_story_id") if k in stored})
    return out


def web_link(value: Any, where: str) -> str:
    """An ad's destination as Meta takes it: an absolute http(s) URL with a host, no whitespace, at most
    MAX_LINK characters; else Graph's invalid-parameter error naming `where`."""
    ok = isinstance(value, str) and 0 < len(value) <= MAX_LINK and value.isprintable() and " " not in value
    parts = urlsplit(value) if ok else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid(f"{where} must be an http(s) URL (at most {MAX_LINK} characters), got {str(value)[:80]!r}",
                      field=where.split(".")[0])
    return value


def call_to_action(value: Any, field: str) -> dict[str, Any] | None:
    """A creative's call_to_action {"type", "value": {"link"}} checked (None when absent), as it is stored."""
    if value is None or value == "":
        return None
    where = f"{field}.call_to_action"
    if not isinstance(value, Mapping):
        raise invalid(f'{where} must be a JSON object {{"type": ..., "value": {{"link": ...}}}}', field=field)
    kind = value.get("type")
    if kind not in CALL_TO_ACTION_TYPES:
        raise invalid(f"{where}.type must be one of {', '.join(CALL_TO_ACTION_TYPES)}, got {kind!r}", field=field)
    inner = value.get("value")
    link = inner.get("link") if isinstance(inner, Mapping) else None
    return {"type": kind, "value": {"link": web_link(link, f"{where}.value.link")}}


def _id_value(spec: Mapping[str, Any], key: str, field: str) -> str | None:
    """An id of a creative spec: a string or an integer (JSON), digits only; None when absent."""
    value = spec.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _DIGITS.match(value):
        raise invalid(f"{field}.{key} must be a numeric id", field=field)
    return value


class AdCreatives(AdsTables):
    """The creatives part of AdsObjects: making one from a spec and storing it."""

    def _store_creatives(self, acc: str, creatives: list[dict[str, Any]]) -> None:
        if not creatives:
            return
        stored = read_creatives(self.state, acc)
        for c in creatives:
            stored[c["id"]] = c
            self.state.set_meta(CREATIVE_OWNER_KEY.format(id=c["id"]), acc)
        write_creatives(self.state, acc, stored)

    def _instagram_post(self, spec: Mapping[str, Any], field: str) -> tuple[str, dict[str, str]] | None:
        """(the sandbox post id, the Instagram fields) of a spec promoting an IG media, None for another spec.

        Both fields are required together (400, Graph's missing-parameter error, when one is absent); a
        media the Instagram side does not know, or one the IG user does not own, is 404 as on Graph."""
        media = _id_value(spec, "source_instagram_media_id", field)
        user = _id_value(spec, "instagram_user_id", field)
        if media is None and user is None:
            return None
        if media is None or user is None:
            missing = "instagram_user_id" if media is not None else "source_instagram_media_id"
            raise invalid(f"{field}: source_instagram_media_id and instagram_user_id are required together; "
                          f"{missing} is missing", SUB_MISSING, missing)
        if spec.get("object_story_id"):
            raise invalid(f"{field}: give either object_story_id or source_instagram_media_id, not both",
                          field=field)
        record = media_record(self.state, media)
        if record is None or record.get("owner") != user:
            whose = "does not exist" if record is None else f"does not belong to Instagram user {user}"
            raise GraphError(f"{field}.source_instagram_media_id: Instagram media '{media}' {whose}", status=404,
                             subcode=SUB_UNKNOWN_OBJECT, field=field)
        return record["post_id"], {"source_instagram_media_id": media, "instagram_user_id": user}

    def _creative_spec(self, acc: str, spec: Mapping[str, Any], field: str, name: str | None) -> dict[str, Any]:
        """A new creative (with its id) from a spec: object_story_id (a published post) or
        source_instagram_media_id + instagram_user_id (an Instagram post), url_tags and call_to_action."""
        instagram = self._instagram_post(spec, field)
        story = instagram[0] if instagram else spec.get("object_story_id")
        if not isinstance(story, str) or not story:
            raise invalid(f"{field} must name an object_story_id (a published post id) or a "
                          "source_instagram_media_id with its instagram_user_id", field=field)
        if self.state.get_post(story) is None:
            raise GraphError(f"{field}.object_story_id: post '{story}' does not exist", status=404,
                             subcode=SUB_UNKNOWN_OBJECT, field=field)
        tags = spec.get("url_tags")
        if tags is not None and not isinstance(tags, str):
            raise invalid(f"{field}.url_tags must be a string", field=field)
        cta = call_to_action(spec.get("call_to_action"), field)
        shown = instagram[1]["source_instagram_media_id"] if instagram else story
        creative = {"id": self._new_ids(1)[0], "account_id": acc,
                    "name": (name or spec.get("name") or f"Creative for {shown}")[:MAX_NAME],
                    "object_story_id": story, "effective_object_story_id": story, "status": "ACTIVE"}
        if instagram:
            creative.update(instagram[1])
        if tags:
            creative["url_tags"] = tags
        if cta:
            creative["call_to_action"] = cta
        return creative

    def _new_creative(self, acc: str, params: Mapping[str, Any]) -> dict[str, Any]:
        spec = {key: param_str(params, key, max_len=200) for key in ("object_story_id", *INSTAGRAM_FIELDS)}
        spec["url_tags"] = param_str(params, "url_tags", max_len=2000)
        spec["call_to_action"] = param_json(params, "call_to_action")
        instagram = any(spec[k] for k in INSTAGRAM_FIELDS)
        if spec["object_story_id"] is None and not instagram:
            raise invalid("the parameter object_story_id is required (the sandbox's creatives promote a "
                          "published post; or source_instagram_media_id with instagram_user_id for an "
                          "Instagram post)", SUB_MISSING, "object_story_id")
        field = "source_instagram_media_id" if instagram else "object_story_id"
        return self._creative_spec(acc, spec, field, param_str(params, "name"))
