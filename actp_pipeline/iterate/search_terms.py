"""Research queries as people type them: the winners' factor levels turned into search words.

A winner's level names ("pain_point", "how_to") are our vocabulary, not words anyone posts; a platform's
keyword search needs the words creators use for that level. Each level maps to the plainest such phrase
(the one most captions with that angle or hook carry), and a query is the topic plus one level's phrase: a
narrow query per winning factor finds more of what works than one query that must match every word.
"""

from __future__ import annotations

from typing import Final

SEARCH_PHRASES: Final[dict[str, dict[str, str]]] = {
    "angle": {"pain_point": "struggling", "social_proof": "reviews", "curiosity": "secret",
              "transformation": "before and after", "urgency": "last chance"},
    "hook_pattern": {"question": "why", "bold_claim": "stop", "stat": "%", "story": "my", "pov": "pov",
                     "how_to": "how to"},
}


def queries_for(topic: str, levels: dict[str, str]) -> list[str]:
    """One query per factor level with a search phrase: "<topic> <phrase>", topic lowercased."""
    topic = topic.strip().lower()
    out = []
    for factor, level in levels.items():
        phrase = SEARCH_PHRASES.get(factor, {}).get(str(level))
        if phrase:
            out.append(f"{topic} {phrase}".strip())
    return out
