"""Named, independent random streams for the sandbox world.

Every random quantity in the world is drawn from a generator keyed by a tuple of names (the world seed,
what is being drawn, and for whom). Keying by name instead of drawing from one shared stream keeps each
quantity stable when unrelated parts of the world change: adding a market item on one day never moves
the numbers of another day or of a post.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np


def derive_seed(*parts: object) -> int:
    """A 64-bit integer that depends only on the given parts (their string forms)."""
    key = json.dumps([str(p) for p in parts], ensure_ascii=True)
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


def derive_hex(*parts: object, length: int = 16) -> str:
    """A stable hex token for ids (post ids, market item ids)."""
    key = json.dumps([str(p) for p in parts], ensure_ascii=True)
    return hashlib.sha256(key.encode()).hexdigest()[:length]


def stream(*parts: object) -> np.random.Generator:
    """A numpy generator seeded only by the given parts."""
    return np.random.Generator(np.random.PCG64(derive_seed(*parts)))
