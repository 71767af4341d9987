"""The Graph API's error bodies and codes, apart from the dialect's objects and parameters: every part of
the sandbox that answers in Meta's shape (the ads objects, the Instagram nodes, OAuth, the route table)
raises these, so the codes, the subcodes and the body are defined once.

Errors (Graph shape: {"error": {"message", "type": "OAuthException", "code", "error_subcode"?,
"is_transient", "error_user_title"?, "error_user_msg"?, "fbtrace_id"}}); every error under /graph is in
this shape, the route table's included. Subcodes other than 33 and 2446079 are the sandbox's own:
  HTTP 400 code 100 /1001 missing required parameter      /1002 invalid value (enum, type, range, fields)
               /1003 malformed JSON parameter (names it)   /1004 daily budget below 100 minor units ($1.00)
               /1005 budget on the wrong level: ad set budget on a CBO campaign, none on an ABO ad set,
                     a campaign budget change on an ABO campaign, daily vs lifetime budget mixed up
               /1006 object does not belong to the account  /1007 invalid paging cursor
               /1008 the object is DELETED (or ARCHIVED and the change is not a deletion)
  HTTP 404 code 100 /33   unknown object (in the path or referenced by a parameter, posts included)
  HTTP 400 code 17  /1701 more than 4 budget changes of one object within a rolling 60 simulated
                          minutes (Meta's own limit); is_transient: it lifts once the hour has passed
  HTTP 400 code 80004 (80000) /2446079 the account's call budget is used up; is_transient
  HTTP 400 code 104 / 190  missing / invalid access token
  HTTP 400 code 2500      unknown path component
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from .errors import ApiError

# error codes and the sandbox's subcodes (see the module docstring)
INVALID, RATE_LIMIT, UNKNOWN_PATH = 100, 17, 2500
INVALID_TOKEN, NO_TOKEN = 190, 104  # Meta's codes for a bad and for a missing access token
ACCOUNT_LIMIT, SUB_ACCOUNT_LIMIT = 80004, 2446079  # Meta's ads_management business-use-case throttle
SUB_DELETED = 1008  # the object is deleted (or archived, and the change is not a deletion)
SUB_MISSING, SUB_INVALID, SUB_JSON, SUB_MIN_BUDGET, SUB_BUDGET_LEVEL, SUB_ACCOUNT, SUB_CURSOR = range(1001, 1008)
SUB_UNKNOWN_OBJECT = 33
SUB_BUDGET_CHANGES = 1701


# error_user_title of each kind of error (Meta shows these to people in Ads Manager; error_user_msg is the
# message itself, which already speaks to a person)
USER_TITLES = {
    SUB_MISSING: "Missing Parameter", SUB_INVALID: "Invalid Parameter", SUB_JSON: "Malformed Parameter",
    SUB_MIN_BUDGET: "Budget Too Low", SUB_BUDGET_LEVEL: "Budget On The Wrong Level",
    SUB_ACCOUNT: "Object From Another Ad Account", SUB_CURSOR: "Invalid Cursor",
    SUB_UNKNOWN_OBJECT: "Object Does Not Exist", SUB_BUDGET_CHANGES: "Too Many Budget Changes",
    SUB_ACCOUNT_LIMIT: "Too Many Calls", SUB_DELETED: "Object Deleted Or Archived",
}


class GraphError(ApiError):
    """An error with the Graph API's body (routes/ads.py sends exc.body() with exc.status)."""

    def __init__(self, message: str, *, code: int = INVALID, subcode: int | None = SUB_INVALID, status: int = 400,
                 transient: bool = False, field: str | None = None, user_title: str | None = None,
                 user_msg: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(status, str(code), message, field, headers)
        self.graph_code = code
        self.subcode = subcode
        self.transient = transient
        self.user_title = user_title if user_title is not None else USER_TITLES.get(subcode or 0)
        self.user_msg = user_msg if user_msg is not None else (message if self.user_title else None)

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"message": self.message, "type": "OAuthException", "code": self.graph_code}
        if self.subcode:
            err["error_subcode"] = self.subcode
        err["is_transient"] = self.transient
        if self.user_title:
            err["error_user_title"] = self.user_title
            err["error_user_msg"] = self.user_msg or self.message
        err["fbtrace_id"] = self.trace_id()
        return {"error": err}

    def trace_id(self) -> str:
        """A Meta-like trace id derived from the error itself (no random draw: the sandbox is reproducible)."""
        digest = hashlib.sha256(f"{self.graph_code}|{self.subcode}|{self.message}".encode()).digest()
        return "A" + base64.urlsafe_b64encode(digest[:15]).decode("ascii").rstrip("=")


def invalid(message: str, subcode: int = SUB_INVALID, field: str | None = None) -> GraphError:
    return GraphError(message, subcode=subcode, field=field)


def unknown_object(object_id: str, what: str = "Object") -> GraphError:
    return GraphError(f"Unsupported request: {what} with ID '{object_id}' does not exist", status=404,
                      subcode=SUB_UNKNOWN_OBJECT)


def as_graph_error(exc: ApiError) -> GraphError:
    """Any error raised under /graph in the Graph shape (the route table's 401/404/405/413/500 included)."""
    if isinstance(exc, GraphError):
        return exc
    if exc.status == 401:
        return GraphError(f"Invalid OAuth access token - {exc.message}", code=INVALID_TOKEN, subcode=None,
                          status=400, headers=exc.headers)
    if exc.status >= 500:
        return GraphError("An unexpected error has occurred. Please retry your request later.", code=2,
                          subcode=None, status=500, transient=True, headers=exc.headers)
    if exc.status == 404:
        return GraphError(f"Unknown path components: {exc.message}", code=UNKNOWN_PATH, subcode=None, status=400)
    return GraphError(exc.message, subcode=None, status=exc.status, field=exc.field, headers=exc.headers)
