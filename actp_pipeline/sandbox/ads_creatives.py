"""The sandbox's ad creatives: a creative is an object_story_id (a published sandbox post) and url_tags,
made by POST /act_{acc}/adcreatives or inline by an ad's creative spec, never changed. Apart from the
campaigns, ad sets and ads because creatives are not rows of the ads tables but JSON per account in the
state's key-value table, with an owner key per creative (ads_world.read_creatives / write_creatives).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .ads_tables import AdsTables
from .ads_world import CREATIVE_OWNER_KEY, read_creatives, write_creatives
from .graph_errors import SUB_MISSING, SUB_UNKNOWN_OBJECT, GraphError, invalid
from .graph_params import MAX_NAME, param_str


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

    def _creative_spec(self, acc: str, spec: Mapping[str, Any], field: str, name: str | None) -> dict[str, Any]:
        """A new creative (with its id) from a spec: object_story_id (a published post) and url_tags."""
        story = spec.get("object_story_id")
        if not isinstance(story, str) or not story:
            raise invalid(f"{field} must name an object_story_id (a published post id)", field=field)
        if self.state.get_post(story) is None:
            raise GraphError(f"{field}.object_story_id: post '{story}' does not exist", status=404,
                             subcode=SUB_UNKNOWN_OBJECT, field=field)
        tags = spec.get("url_tags")
        if tags is not None and not isinstance(tags, str):
            raise invalid(f"{field}.url_tags must be a string", field=field)
        creative = {"id": self._new_ids(1)[0], "account_id": acc,
                    "name": (name or spec.get("name") or f"Creative for {story}")[:MAX_NAME],
                    "object_story_id": story, "effective_object_story_id": story, "status": "ACTIVE"}
        if tags:
            creative["url_tags"] = tags
        return creative

    def _new_creative(self, acc: str, params: Mapping[str, Any]) -> dict[str, Any]:
        spec = {"object_story_id": param_str(params, "object_story_id", max_len=200),
                "url_tags": param_str(params, "url_tags", max_len=2000)}
        if spec["object_story_id"] is None:
            raise invalid("the parameter object_story_id is required (the sandbox's creatives promote a "
                          "published post)", SUB_MISSING, "object_story_id")
        return self._creative_spec(acc, spec, "object_story_id", param_str(params, "name"))
