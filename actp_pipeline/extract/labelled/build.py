"""Write captions.jsonl: the labelled caption set, train split from phrase banks A and C, test split from
bank B plus hand-written captions. Bank C rows come from their own random stream (SEED_C), drawn after the
test rows' stream is done, so adding or changing bank C never changes a test row; bank D (more varied angle
wording) likewise has its own stream (SEED_D). Deterministic (fixed seed), so re-running reproduces the shipped file.

Run: python -m actp_pipeline.extract.labelled.build
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from types import ModuleType

import numpy as np

from actp_pipeline.creative import ANGLES, CTA_STYLES, FORMATS, HOOK_PATTERNS
from actp_pipeline.extract.labelled import bank_test, bank_train, bank_train2, bank_train3
from actp_pipeline.extract.labelled.topics import FIRST_NAMES, TEST_ONLY, TOPICS, TRAIN_EXTRA

PATH = Path(__file__).with_name("captions.jsonl")
SEED = 13
N_TRAIN = 1200
SEED_C = 1313
N_TRAIN_C = 2400
SEED_D = 1717
N_TRAIN_D = 1200
N_TEST = 400
_EMOJI = ("✨", "🔥", "👀", "😭", "💯", "🙌", "👇", "😮", "🤯", "💪", "🫶", "")
_CITIES = ("Leeds", "Austin", "Lagos", "Lyon", "Pune", "Osaka", "Toronto")
_GENERIC_TAGS = ("#fyp", "#foryou", "#viral", "#reels", "#tips", "#shorts", "#explore", "#trending")


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _fill(rng: np.random.Generator, template: str, topic: str, lex: dict) -> str:
    a = int(rng.integers(2, 6))
    values = {k: _pick(rng, v) for k, v in lex.items() if k != "step"}
    values |= {"topic": topic, "pct": str(int(rng.integers(11, 97))), "a": str(a), "b": str(a + int(rng.integers(1, 8))),
               "k": str(int(rng.integers(2, 11))), "n": str(int(rng.integers(3, 8))),
               "days": str(_pick(rng, (7, 10, 14, 21, 30, 60, 90))), "money": str(int(rng.integers(2, 60)) * 100)}
    return template.format(**values)


def _listicle(rng, bank: ModuleType, angle_line: str, lex: dict) -> list[str]:
    steps = [lex["step"][int(i)] for i in rng.permutation(len(lex["step"]))[: int(rng.integers(2, 5))]]
    mark = _pick(rng, bank.LIST_MARKS)
    if rng.random() < 0.5:
        steps.insert(int(rng.integers(len(steps) + 1)), angle_line.rstrip("."))
        return [mark.format(i=i) + s for i, s in enumerate(steps, start=1)]
    return [angle_line] + [mark.format(i=i) + s for i, s in enumerate(steps, start=1)]


def _testimonial(rng, bank: ModuleType, angle_line: str, topic: str, lex: dict) -> list[str]:
    left, right = _pick(rng, bank.QUOTE_MARKS)
    who = _pick(rng, bank.ATTRIBUTIONS).format(name=_pick(rng, FIRST_NAMES), age=int(rng.integers(19, 58)),
                                               city=_pick(rng, _CITIES))
    if rng.random() < 0.5:
        return [f"{left}{angle_line}{right}", who]
    quote = _fill(rng, _pick(rng, bank.QUOTES), topic, lex)
    return [angle_line, f"{left}{quote}{right}", who]


def _body(rng, bank: ModuleType, angle: str, fmt: str, topic: str, lex: dict) -> list[str]:
    angle_line = _fill(rng, _pick(rng, bank.ANGLES[angle]), topic, lex)
    angle_line = angle_line[:1].upper() + angle_line[1:]
    if fmt == "listicle":
        return _listicle(rng, bank, angle_line, lex)
    if fmt == "testimonial":
        return _testimonial(rng, bank, angle_line, topic, lex)
    lines = [angle_line]
    for i in rng.permutation(len(bank.NEUTRAL))[: int(rng.integers(0, 3))]:
        lines.insert(int(rng.integers(len(lines) + 1)), _fill(rng, bank.NEUTRAL[int(i)], topic, lex))
    return lines


def compose(rng: np.random.Generator, bank: ModuleType, labels: dict[str, str], topic: str, lex: dict) -> str:
    """One caption: hook, body in the format (carrying the angle), CTA, and the noise short-form posts have
    (emojis, lowercase, blank lines, a hashtag line)."""
    hook = _fill(rng, _pick(rng, bank.HOOKS[labels["hook_pattern"]]), topic, lex)
    if rng.random() < 0.3:
        hook = f"{hook} {_pick(rng, _EMOJI)}".rstrip()
    body = _body(rng, bank, labels["angle"], labels["format"], topic, lex)
    cta = _fill(rng, _pick(rng, bank.CTAS[labels["cta_style"]]), topic, lex)
    lines = [hook, *([""] if rng.random() < 0.2 else []), *body, cta]
    if rng.random() < 0.4:
        tags = {"#" + topic.replace(" ", "")} | {_pick(rng, _GENERIC_TAGS) for _ in range(int(rng.integers(1, 4)))}
        lines.append(" ".join(sorted(tags)))
    text = "\n".join(lines)
    return text.lower() if rng.random() < 0.2 else text


def _casual(rng: np.random.Generator, text: str) -> str:
    """Bank C's extra noise: dropped full stops, an emoji in front of a line, all lowercase."""
    if rng.random() < 0.4:
        text = text.replace(".\n", "\n").rstrip(".")
    if rng.random() < 0.2:
        lines = text.split("\n")
        i = int(rng.integers(len(lines)))
        lines[i] = f"{_pick(rng, _EMOJI)} {lines[i]}".lstrip()
        text = "\n".join(lines)
    return text.lower() if rng.random() < 0.25 else text


def _split_rows(rng, bank: ModuleType, n: int, topics: dict, split: str, casual: bool = False) -> list[dict]:
    """n rows with each factor's levels balanced (cycled with co-prime offsets, then shuffled)."""
    rows, names = [], sorted(topics)
    order = rng.permutation(n)
    for j in range(n):
        i = int(order[j])
        labels = {"hook_pattern": HOOK_PATTERNS[i % 6], "angle": ANGLES[(i // 6) % 5],
                  "cta_style": CTA_STYLES[(i // 30) % 4], "format": FORMATS[(i // 120 + i) % 3]}
        topic = names[int(rng.integers(len(names)))]
        caption = compose(rng, bank, labels, topic, topics[topic])
        caption = _casual(rng, caption) if casual else caption
        rows.append({"caption": caption, **labels, "split": split,
                     "provenance": f"ACTP team; phrase bank {bank.__name__.rsplit('_', 1)[-1]}; topic {topic}"})
    return rows


def build_rows() -> list[dict]:
    rng = np.random.default_rng(SEED)
    rows = _split_rows(rng, bank_train, N_TRAIN, TOPICS, "train")
    rows += _split_rows(rng, bank_test, N_TEST, TOPICS | TEST_ONLY, "test")
    keys = ("caption", "hook_pattern", "angle", "cta_style", "format")
    rows += [dict(zip(keys, r)) | {"split": "test", "provenance": "ACTP team; written by hand"}
             for r in bank_test.HANDWRITTEN]
    extra = _split_rows(np.random.default_rng(SEED_C), bank_train2, N_TRAIN_C, TOPICS | TRAIN_EXTRA, "train",
                        casual=True)
    extra += _split_rows(np.random.default_rng(SEED_D), bank_train3, N_TRAIN_D, TOPICS | TRAIN_EXTRA, "train",
                         casual=True)
    return rows[:N_TRAIN] + extra + rows[N_TRAIN:]


def main() -> None:
    rows = build_rows()
    with PATH.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    for factor in ("hook_pattern", "angle", "cta_style", "format"):
        counts = Counter((r["split"], r[factor]) for r in rows)
        print(factor, dict(sorted(counts.items())))
    print("total", Counter(r["split"] for r in rows))


if __name__ == "__main__":
    main()
