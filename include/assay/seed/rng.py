"""Named, independent random streams.

Every piece of the shop draws from its own stream keyed by the seed, a stream name and integers
(a day's ordinal, a size). So one day's data does not depend on which other days are seeded, and
turning a defect on changes only that defect's rows.
"""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, name: str, *keys: int) -> np.random.Generator:
    """A generator for ``name`` and ``keys`` under ``seed``; same arguments, same numbers."""
    # crc32 rather than hash(): str hashes are salted per process.
    entropy = [seed, zlib.crc32(name.encode("utf-8")), *keys]
    return np.random.default_rng(np.random.SeedSequence(entropy))
