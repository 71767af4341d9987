"""Copy from a language model behind any OpenAI-compatible chat-completions endpoint (optional).

Unset (no base URL or no model) = the templates (variants.write_copy) write every variant. Set, each
variant's copy is asked of the model through the official `openai` client, at temperature 0 with
`response_format={"type": "json_object"}`, a bounded number of requests at a time. Whatever comes back
is validated (`validate_copy`); an invalid answer, a timeout or an API error falls back to the template
copy for that variant, and the reason is counted: a bad model never fails a round. Model copy then goes
through the same moderation as template copy (assets/variants.py moderates after generation).

The prompt (SYSTEM_PROMPT and `user_prompt`):
- system: the JSON object to answer with, its four fields and their limits, and the rule that the hook
  follows the hook pattern and the body the angle;
- user: one `name: value` line each for topic, hook_pattern, angle, cta_style and format, followed by a
  one-line description of what each of those factor levels means. The lines are machine-readable on
  purpose: the sandbox's deterministic endpoint (sandbox/routes/chat.py) reads them back with
  `parse_prompt`.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

MAX_HOOK_CHARS = 120  # moderation's hook limit (ModerationRules.max_hook_chars)
MAX_LINE_CHARS = 160
MAX_BODY_LINES = 6
MAX_CTA_CHARS = 120
MAX_CAPTION_CHARS = 2200  # TikTok's caption limit, as moderation
PROMPT_FIELDS = ("topic", "hook_pattern", "angle", "cta_style", "format")

SYSTEM_PROMPT = (
    "You write copy for one short-form vertical video ad. Answer with a single JSON object and nothing else, "
    'with exactly these fields: "hook" (string, at most 120 characters, the first line on screen), '
    '"body_lines" (array of 1 to 6 strings, each at most 160 characters), "cta" (string, at most 120 '
    'characters, the call to action) and "caption" (string, at most 2200 characters, the post caption). '
    "The hook must follow the requested hook pattern, the body the requested angle, the CTA the requested "
    "CTA style; a listicle has at least two numbered body lines. No health, money or result guarantees, no "
    "personal data."
)
LEVEL_MEANING = {
    "question": "opens with a question", "bold_claim": "opens with a bold, contrarian statement",
    "stat": "opens with a number or statistic", "story": "opens with a first-person story",
    "pov": "opens with 'POV:'", "how_to": "opens with 'How to'",
    "pain_point": "names the viewer's frustration", "social_proof": "shows that many others use it",
    "curiosity": "teases a secret", "transformation": "contrasts before and after",
    "urgency": "gives a reason to act now",
    "follow": "ask to follow", "link_in_bio": "send to the link in bio", "comment": "ask for a comment",
    "save": "ask to save the video",
    "text_hook": "big text over plain video", "listicle": "a numbered list", "testimonial": "a customer quote",
}


def user_prompt(factors: Mapping[str, str]) -> str:
    """The user message for one variant (`factors` holds PROMPT_FIELDS)."""
    lines = [f"{name}: {factors[name]}" for name in PROMPT_FIELDS]
    meaning = [f"- {factors[n]}: {LEVEL_MEANING[factors[n]]}" for n in PROMPT_FIELDS[1:]
               if factors[n] in LEVEL_MEANING]
    return "\n".join(["Write the ad copy for this variant.", *lines, "What the levels mean:", *meaning])


def parse_prompt(text: str) -> dict[str, str]:
    """The `name: value` lines of a user prompt (the fields of PROMPT_FIELDS found in it)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip() in PROMPT_FIELDS and name.strip() not in found:
            found[name.strip()] = value.strip()
    return found


def validate_copy(content: str | None, factors: Mapping[str, str]) -> tuple[dict[str, object] | None, str | None]:
    """(copy, None) when the model's answer is usable, else (None, the reason)."""
    if not content or not content.strip():
        return None, "empty answer"
    try:
        data = json.loads(content)
    except ValueError:
        return None, "answer is not JSON"
    if not isinstance(data, dict):
        return None, "answer is not a JSON object"
    hook, body, cta, caption = (data.get(k) for k in ("hook", "body_lines", "cta", "caption"))
    problems = []
    if not isinstance(hook, str) or not hook.strip() or len(hook) > MAX_HOOK_CHARS:
        problems.append(f"hook missing, empty or over {MAX_HOOK_CHARS} characters")
    if not isinstance(body, list) or not 1 <= len(body) <= MAX_BODY_LINES or not all(
            isinstance(b, str) and b.strip() and len(b) <= MAX_LINE_CHARS for b in body):
        problems.append(f"body_lines must be 1-{MAX_BODY_LINES} non-empty strings of at most {MAX_LINE_CHARS}")
    elif factors.get("format") == "listicle" and len(body) < 2:
        problems.append("a listicle needs at least two body lines")
    if not isinstance(cta, str) or not cta.strip() or len(cta) > MAX_CTA_CHARS:
        problems.append(f"cta missing, empty or over {MAX_CTA_CHARS} characters")
    if not isinstance(caption, str) or not caption.strip() or len(caption) > MAX_CAPTION_CHARS:
        problems.append(f"caption missing, empty or over {MAX_CAPTION_CHARS} characters")
    if problems:
        return None, "invalid: " + "; ".join(problems)
    return {"hook": hook.strip(), "body_lines": [b.strip() for b in body], "cta": cta.strip(),
            "caption": caption.strip()}, None


@dataclass
class CopyReport:
    """Where each variant's copy came from, and why the model's was refused when it was."""

    template: int = 0
    model: int = 0
    fallback: int = 0
    reasons: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {"template": self.template, "model": self.model, "fallback": self.fallback,
                "fallback_reasons": dict(self.reasons.most_common())}


@dataclass
class ModelCopywriter:
    """Asks an OpenAI-compatible endpoint for each variant's copy. `max_concurrency` requests at a time;
    after `max_failures` transport failures in a row (timeouts, refused connections, 5xx) the rest of the
    round is not asked: one dead endpoint costs a few timeouts, not one per variant."""

    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 20.0
    max_concurrency: int = 4
    max_retries: int = 0
    max_failures: int = 3
    max_tokens: int = 600

    def __post_init__(self) -> None:
        if not self.base_url or not self.model:
            raise ValueError("ModelCopywriter needs a base_url and a model (ACTP_LLM_BASE_URL, ACTP_LLM_MODEL)")
        if self.max_concurrency < 1 or self.timeout_s <= 0:
            raise ValueError("ModelCopywriter: max_concurrency must be >= 1 and timeout_s > 0")
        self._lock = threading.Lock()
        self._failures = 0

    def _client(self):
        import openai

        # an OpenAI-compatible server without keys still needs the client's header to be non-empty
        return openai.OpenAI(base_url=self.base_url, api_key=self.api_key or "no-key",
                             timeout=self.timeout_s, max_retries=self.max_retries)

    def _ask(self, client, factors: Mapping[str, str]) -> tuple[dict[str, object] | None, str | None]:
        import openai

        with self._lock:
            if self._failures >= self.max_failures:
                return None, "endpoint failing: not asked"
        transport = False
        try:
            answer = client.chat.completions.create(
                model=self.model, temperature=0, max_tokens=self.max_tokens,
                response_format={"type": "json_object"},
                messages=[{"role": "system", "content": SYSTEM_PROMPT},
                          {"role": "user", "content": user_prompt(factors)}])
            content = answer.choices[0].message.content if answer.choices else None
            copy, reason = validate_copy(content, factors)
        except openai.APITimeoutError:
            copy, reason, transport = None, "timeout", True
        except openai.APIConnectionError:
            copy, reason, transport = None, "connection error", True
        except openai.APIStatusError as e:
            copy, reason, transport = None, f"API error {e.status_code}", e.status_code >= 500
        except (openai.OpenAIError, ValueError, TypeError, AttributeError, IndexError) as e:
            copy, reason = None, f"unreadable answer ({type(e).__name__})"
        with self._lock:
            self._failures = self._failures + 1 if transport else 0
        return copy, reason

    def write(self, requests: Sequence[Mapping[str, str]]) -> list[tuple[dict[str, object] | None, str | None]]:
        """Per request (PROMPT_FIELDS), in order: (copy, None) or (None, why the model's copy was refused)."""
        if not requests:
            return []
        client = self._client()
        try:
            with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(requests)),
                                    thread_name_prefix="actp-llm-copy") as pool:
                return list(pool.map(lambda r: self._ask(client, r), requests))
        finally:
            client.close()
