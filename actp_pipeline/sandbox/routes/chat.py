"""OpenAI's chat-completions endpoint (POST /v1/chat/completions): the sandbox's stand-in for any
OpenAI-compatible language model, so the official `openai` client runs against it unchanged.

The shape is OpenAI's documented one: Bearer auth with the sandbox's API keys; the answer {id, object
"chat.completion", created, model, choices [{index, message {role, content, refusal}, logprobs,
finish_reason}], usage {prompt_tokens, completion_tokens, total_tokens}}; errors as {"error": {message,
type, param, code}}. Its "model" is deterministic, not a model: it reads the `name: value` lines of the
user message (topic, hook_pattern, angle, cta_style, format: the prompt of generate/llm_copy.py) and
writes ad copy for them as a JSON object, so the same request always gets the same answer. Streaming is
not served (400 on stream=true); `n` choices are n copies of the one answer.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..clock import SimClock
from ..errors import ApiError
from ..transport import JSON_BODY_LIMIT, Auth, Dialect, endpoint, json_response, route
from ..validation import decode_json

PREFIX = "/v1"
ROLES = {"system", "developer", "user", "assistant", "tool"}
FIELDS = ("topic", "hook_pattern", "angle", "cta_style", "format")
ERROR_TYPES = {401: "invalid_request_error", 404: "invalid_request_error", 429: "rate_limit_exceeded"}

_HOOKS = {
    "question": ["Is your {topic} routine missing one step?", "What would change if {topic} took five minutes?"],
    "bold_claim": ["Your {topic} routine is doing too much.", "Most {topic} advice is backwards."],
    "stat": ["4 in 5 people skip the {topic} step that matters.", "12 minutes a week is all {topic} needs."],
    "story": ["I rebuilt my {topic} routine in one weekend.", "Six months ago my {topic} was a mess."],
    "pov": ["POV: your {topic} routine finally makes sense.", "POV: {topic} stopped being a chore."],
    "how_to": ["How to rebuild your {topic} routine in 3 moves.", "How to make {topic} simple again."],
}
_BODIES = {
    "pain_point": ["Tired of {topic} steps that lead nowhere?", "Most routines fight each other.",
                   "Cut it down to what works together."],
    "social_proof": ["Creators everywhere moved to this {topic} order.", "The comments keep saying the same.",
                     "Here is the order they follow."],
    "curiosity": ["One {topic} step hides in plain sight.", "Almost nobody does it first.",
                  "Watch what changes when you do."],
    "transformation": ["Week one: the usual {topic} chaos.", "Week four: a routine that runs itself.",
                       "Same budget, new order."],
    "urgency": ["Start tonight, not next month.", "The {topic} season turns soon.", "Two minutes now saves hours later."],
}
_CTAS = {"follow": "Follow for the next {topic} breakdown", "link_in_bio": "The full {topic} list is in the bio",
         "comment": "Comment 'ORDER' for the {topic} checklist", "save": "Save this for your next {topic} reset"}


def _fields(messages: list[dict[str, Any]]) -> dict[str, str]:
    """The `name: value` lines of the user messages (the first of each name)."""
    found: dict[str, str] = {}
    for m in messages:
        if m.get("role") != "user":
            continue
        for line in _text(m.get("content")).splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip() in FIELDS and name.strip() not in found:
                found[name.strip()] = value.strip()[:80]
    return found


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def write_copy(messages: list[dict[str, Any]], digest: str) -> dict[str, Any]:
    """The deterministic answer: copy for the factors and topic the prompt names."""
    f = _fields(messages)
    topic = f.get("topic") or "your product"
    pick = int(digest[:8], 16)
    hook = _HOOKS.get(f.get("hook_pattern", ""), ["Here is what changed my {topic}."])
    hook_text = hook[pick % len(hook)].format(topic=topic)
    body = [b.format(topic=topic) for b in _BODIES.get(f.get("angle", ""), ["A simple {topic} idea, shown step by step."])]
    if f.get("format") == "listicle":
        body = [f"{i}. {b}" for i, b in enumerate(body, 1)]
    elif f.get("format") == "testimonial":
        body = [f"\u201c{' '.join(body[1:]) or body[0]}\u201d", "\u2014 a viewer who tried it"]
    cta = _CTAS.get(f.get("cta_style", ""), "Follow for more about {topic}").format(topic=topic)
    return {"hook": hook_text, "body_lines": body, "cta": cta, "caption": "\n".join([hook_text, *body, cta])}


def _bad(message: str, param: str | None) -> ApiError:
    return ApiError(400, "invalid_request_error", message, field=param)


def _check(body: Any) -> tuple[str, list[dict[str, Any]], int]:
    """(model, messages, n) of a valid request body; a 400 naming the parameter otherwise."""
    if not isinstance(body, dict):
        raise _bad("the request body must be a JSON object", None)
    model, messages, n = body.get("model"), body.get("messages"), body.get("n", 1)
    if not isinstance(model, str) or not model.strip():
        raise _bad("you must provide a model parameter", "model")
    if not isinstance(messages, list) or not messages:
        raise _bad("'messages' must be a non-empty array", "messages")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), (str, list)):
            raise _bad(f"invalid message at messages[{i}]: needs a role ({', '.join(sorted(ROLES))}) and content",
                       f"messages[{i}]")
    temperature = body.get("temperature", 1)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2:
        raise _bad("temperature must be a number between 0 and 2", "temperature")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 8:
        raise _bad("n must be an integer between 1 and 8", "n")
    if body.get("stream"):
        raise _bad("the sandbox does not stream: set stream to false", "stream")
    fmt = body.get("response_format")
    if fmt is not None and (not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object", "json_schema")):
        raise _bad("response_format.type must be one of text, json_object, json_schema", "response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_object" and \
            not any("json" in _text(m.get("content")).lower() for m in messages):
        raise _bad("'messages' must contain the word 'json' in some form, to use 'response_format' of type "
                   "'json_object'", "messages")
    return model, messages, n


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))  # about four characters a token, as OpenAI's rule of thumb


def chat_completions(clock: SimClock):
    def handle(request: Request, raw: bytes) -> Response:
        try:
            body = decode_json(raw.decode("utf-8")) if raw.strip() else None
        except (UnicodeDecodeError, ValueError) as exc:
            raise _bad(f"we could not parse the JSON body of your request: {exc}", None) from None
        model, messages, n = _check(body)
        canonical = json.dumps([model, messages], sort_keys=True, ensure_ascii=False)
        digest = hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
        content = json.dumps(write_copy(messages, digest), ensure_ascii=False)
        prompt = _tokens("".join(_text(m.get("content")) for m in messages))
        done = _tokens(content)
        choice = {"message": {"role": "assistant", "content": content, "refusal": None},
                  "logprobs": None, "finish_reason": "stop"}
        return json_response(200, {
            "id": "chatcmpl-" + digest[:24], "object": "chat.completion", "created": int(clock.now().timestamp()),
            "model": model, "choices": [{"index": i, **choice} for i in range(n)],
            "usage": {"prompt_tokens": prompt, "completion_tokens": done * n, "total_tokens": prompt + done * n},
            "system_fingerprint": "fp_actp_sandbox",
        })

    return handle


def render_error(request: Request, exc: ApiError) -> Response:
    """OpenAI's error body: {"error": {"message", "type", "param", "code"}}."""
    kind = exc.code if exc.code == "invalid_request_error" else ERROR_TYPES.get(
        exc.status, "server_error" if exc.status >= 500 else "invalid_request_error")
    code = "invalid_api_key" if exc.status == 401 else (None if exc.code == "invalid_request_error" else exc.code)
    headers = {k: v for k, v in exc.headers.items() if k.lower() != "www-authenticate"}
    return json_response(exc.status, {"error": {"message": exc.message, "type": kind, "param": exc.field,
                                                 "code": code}}, headers)


def chat_dialect(auth: Auth, clock: SimClock) -> Dialect:
    """The /v1 dialect: chat completions, in OpenAI's shape."""
    post = endpoint(chat_completions(clock), guard=auth.api_key, body_limit=JSON_BODY_LIMIT)
    return Dialect(PREFIX, [route(PREFIX + "/chat/completions", {"POST": post})], render_error=render_error)
