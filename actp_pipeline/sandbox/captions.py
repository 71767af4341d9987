"""Caption text for market items, written so the creative factors can be read back from simple cues.

A caption is: the hook (first line), one to three body lines, and the call to action (last line).
Each factor level leaves one reliable cue and the rest of the wording varies:

- hook_pattern: question ends with "?"; bold_claim starts with "Stop", "Nobody", "This is the only" or
  "You're ... wrong"; stat contains a number with "%", "x" or "out of"; story starts with "I", "My" or
  "Last year" in the past tense; pov starts with "POV:"; how_to starts with "How to" or "How I".
  Only question hooks end with "?", only stat hooks contain digits, and no other hook starts with one
  of these openers.
- format: listicle body lines are numbered "1." "2." "3."; testimonial has a body line in double
  quotes followed by a line starting with "— "; text_hook has plain body lines.
- cta_style: the last line starts with "Follow for", "Link in bio", "Comment" or "Save this".
- angle: one body line carries a characteristic phrase (see ANGLE_CUES); no other line does.
"""

from __future__ import annotations

import re

import numpy as np

# Phrases that mark an angle. Neutral text never contains any of them.
ANGLE_CUES: dict[str, tuple[str, ...]] = {
    "pain_point": ("struggling", "tired of", "frustrated"),
    "social_proof": ("thousands of people", "five-star reviews", "everyone is switching"),
    "curiosity": ("secret", "hidden", "nobody tells you"),
    "transformation": ("before and after", "transformed", "glow-up"),
    "urgency": ("today only", "last chance", "ends tonight", "selling out"),
}

_LEXICON: dict[str, dict[str, tuple[str, ...]]] = {
    "skincare": {
        "product": ("serum", "moisturizer", "sunscreen", "cleanser", "retinol cream", "toner", "face oil"),
        "thing": ("skin", "skin barrier", "complexion", "pores"),
        "problem": ("breakouts", "dry patches", "dark spots", "redness", "dull skin"),
        "benefit": ("clear skin", "glowing skin", "an even skin tone", "calm skin"),
        "step": (
            "Double cleanse at night",
            "Apply sunscreen every morning",
            "Moisturize while your skin is still damp",
            "Patch test every new product",
            "Use retinol only a few nights a week",
            "Change your pillowcase often",
            "Go easy on exfoliating acids",
            "Drink water and sleep enough",
        ),
    },
}


def _lexicon(topic: str) -> dict[str, tuple[str, ...]]:
    key = topic.strip().lower()
    if key in _LEXICON:
        return _LEXICON[key]
    return {
        "product": (f"{key} kit", f"{key} tool", f"{key} starter set"),
        "thing": (f"{key} routine", f"{key} results", f"{key} game"),
        "problem": ("wasted effort", "slow progress", "results that fade", "bad habits"),
        "benefit": (f"better {key} results", "real progress", "steady results"),
        "step": (
            "Start smaller than you think",
            "Keep a simple log",
            "Repeat what works",
            "Drop what does not",
            "Set one goal per week",
            "Ask for feedback early",
        ),
    }


HOOKS: dict[str, tuple[str, ...]] = {
    "question": (
        "Why do your {problem} keep coming back?",
        "Does your {topic} routine actually work?",
        "What if {benefit} was this simple?",
        "Are you using your {product} at the right time?",
        "Ever wondered why {benefit} feels so far away?",
        "Which {product} really deserves a spot on your shelf?",
        "Could your {product} be the reason for your {problem}?",
    ),
    "bold_claim": (
        "Stop buying {product} until you see this.",
        "Stop ignoring your {thing}.",
        "Nobody talks about this {topic} mistake.",
        "Nobody needs a ten-step {topic} routine.",
        "This is the only {product} you will ever need.",
        "This is the only {topic} rule that matters.",
        "You're doing your {topic} routine wrong.",
        "You're applying your {product} wrong.",
    ),
    "stat": (
        "{pct}% of people skip the most important {topic} step.",
        "{a} out of {b} people never finish their {product}.",
        "This one change made my {thing} {k}x smoother.",
        "A {pct}% drop in {problem} after switching one product.",
        "Only {pct}% of people apply {product} the right way.",
        "A {k}x difference from one tiny habit.",
    ),
    "story": (
        "I almost gave up on my {thing}.",
        "I used to hide my {problem} every single day.",
        "I tried every {product} on the market.",
        "My {thing} changed when I stopped overthinking it.",
        "My friend laughed at my {topic} routine.",
        "Last year my {thing} was a mess.",
        "Last year I spent a fortune on {product}.",
    ),
    "pov": (
        "POV: you finally found a {product} that works.",
        "POV: your {thing} after a month of consistency.",
        "POV: you stopped buying every new {product}.",
        "POV: your friends keep asking about your {thing}.",
        "POV: you learned the right order for your {topic} routine.",
    ),
    "how_to": (
        "How to get {benefit} without spending a fortune.",
        "How to build a {topic} routine that sticks.",
        "How to pick the right {product} for you.",
        "How I got {benefit} in one season.",
        "How I finally dealt with my {problem}.",
    ),
}

ANGLE_LINES: dict[str, tuple[str, ...]] = {
    "pain_point": (
        "If you're struggling with {problem}, this is for you.",
        "Tired of {problem} that never seem to leave.",
        "I was so frustrated with my {thing} for years.",
        "Still struggling to find a {product} that suits you.",
    ),
    "social_proof": (
        "Thousands of people switched to this routine.",
        "Thousands of people swear by this {product}.",
        "It has five-star reviews for a reason.",
        "Everyone is switching to this {product}.",
    ),
    "curiosity": (
        "Here's the secret about {product} that brands keep quiet.",
        "The secret is the order you apply things in.",
        "There's a hidden step most people skip.",
        "What nobody tells you about {product}.",
    ),
    "transformation": (
        "Swipe for the before and after.",
        "My {thing} completely transformed.",
        "This was my whole glow-up in one routine.",
        "The before and after speaks for itself.",
    ),
    "urgency": (
        "The bundle is on sale today only.",
        "Last chance to grab it before it's gone.",
        "The offer ends tonight, so don't wait.",
        "This {product} keeps selling out fast.",
    ),
}

NEUTRAL_LINES: tuple[str, ...] = (
    "Here's what actually helped.",
    "Keep it simple and stay consistent.",
    "Consistency beats intensity every time.",
    "Your {thing} will thank you.",
    "Small habits add up.",
    "Give it a few weeks before you judge.",
)

QUOTES: tuple[str, ...] = (
    "Honestly the best thing I did for my {thing} this year.",
    "I did not expect it to work this well.",
    "My {thing} has never felt better.",
    "I wish I had started this sooner.",
)

CTAS: dict[str, tuple[str, ...]] = {
    "follow": (
        "Follow for more {topic} tips.",
        "Follow for part two.",
        "Follow for daily {topic} advice.",
    ),
    "link_in_bio": (
        "Link in bio to shop the routine.",
        "Link in bio for the full list.",
        "Link in bio for everything I use.",
    ),
    "comment": (
        "Comment your {thing} type below.",
        "Comment ROUTINE and I'll send you the steps.",
        "Comment which step you always skip.",
    ),
    "save": (
        "Save this for your next shopping trip.",
        "Save this so you don't forget.",
        "Save this for later.",
    ),
}

FIRST_NAMES: tuple[str, ...] = (
    "Maya", "Jordan", "Priya", "Lena", "Sam", "Chloe", "Aisha", "Noah", "Elena", "Kai", "Zoe", "Marco",
)


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _fill(rng: np.random.Generator, template: str, topic: str) -> str:
    lex = _lexicon(topic)
    a = int(rng.integers(2, 5))
    values = {
        "topic": topic.strip().lower(),
        "product": _pick(rng, lex["product"]),
        "thing": _pick(rng, lex["thing"]),
        "problem": _pick(rng, lex["problem"]),
        "benefit": _pick(rng, lex["benefit"]),
        "pct": str(int(rng.integers(12, 96))),
        "a": str(a),
        "b": str(a + int(rng.integers(1, 6))),
        "k": str(int(rng.integers(2, 6))),
    }
    return template.format(**values)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def hook_text(rng: np.random.Generator, hook_pattern: str, topic: str) -> str:
    return _fill(rng, _pick(rng, HOOKS[hook_pattern]), topic)


def body_lines(rng: np.random.Generator, angle: str, format: str, topic: str) -> list[str]:
    angle_line = _fill(rng, _pick(rng, ANGLE_LINES[angle]), topic)
    if format == "listicle":
        steps = list(_lexicon(topic)["step"])
        order = rng.permutation(len(steps))[:2]
        items = [steps[int(i)] + "." for i in order]
        items.insert(int(rng.integers(3)), angle_line)
        return [f"{n}. {text}" for n, text in enumerate(items, start=1)]
    if format == "testimonial":
        name = _pick(rng, FIRST_NAMES)
        attribution = f"— {name}, {int(rng.integers(19, 46))}"
        if rng.random() < 0.5:
            return [f'"{angle_line}"', attribution]
        quote = _fill(rng, _pick(rng, QUOTES), topic)
        return [angle_line, f'"{quote}"', attribution]
    # text_hook: plain lines, one of them with the angle cue
    extra = int(rng.integers(0, 3))
    lines = [angle_line]
    neutral = rng.permutation(len(NEUTRAL_LINES))[:extra]
    for i in neutral:
        lines.insert(int(rng.integers(len(lines) + 1)), _fill(rng, NEUTRAL_LINES[int(i)], topic))
    return lines


def cta_text(rng: np.random.Generator, cta_style: str, topic: str) -> str:
    return _fill(rng, _pick(rng, CTAS[cta_style]), topic)


def compose(rng: np.random.Generator, factors: dict[str, str], topic: str) -> tuple[str, str]:
    """Caption text and its hook for a creative with the given factor levels."""
    hook = _sentence(hook_text(rng, factors["hook_pattern"], topic))
    body = body_lines(rng, factors["angle"], factors["format"], topic)
    cta = cta_text(rng, factors["cta_style"], topic)
    return "\n".join([hook, *body, cta]), hook


def topic_slug(topic: str) -> str:
    return re.sub(r"[^a-z0-9]", "", topic.lower()) or "creator"


_ANGLE_TAGS = {
    "pain_point": "{slug}struggles",
    "social_proof": "{slug}review",
    "curiosity": "{slug}secrets",
    "transformation": "beforeandafter",
    "urgency": "sale",
}
_PLATFORM_TAGS = {
    "tiktok": ("fyp", "foryou", "tiktokmademebuyit"),
    "instagram": ("reels", "explore", "instagood"),
    "youtube": ("shorts", "youtubeshorts"),
}


def hashtags(rng: np.random.Generator, topic: str, platform: str, angle: str) -> list[str]:
    slug = topic_slug(topic)
    pool = [f"{slug}tips", f"{slug}routine", f"{slug}check", f"{slug}community", "viral", "trending"]
    chosen = [slug]
    for i in rng.permutation(len(pool))[: int(rng.integers(1, 4))]:
        chosen.append(pool[int(i)])
    if rng.random() < 0.6:
        chosen.append(_ANGLE_TAGS[angle].format(slug=slug))
    platform_tags = _PLATFORM_TAGS.get(platform, ("video",))
    chosen.append(_pick(rng, platform_tags))
    seen: list[str] = []
    for tag in chosen:
        if tag not in seen:
            seen.append(tag)
    return ["#" + t for t in seen]
