"""How unsure the tagger is about a passage: the review queue's order (most unsure first).

Per label, the distance between the probability and the label's threshold, as a share of the
room on that side of the threshold (the threshold itself below it, 1 - threshold above); a
passage is as unsure as its most unsure label. Raw distances are not comparable across labels:
with a threshold of 0.35, a probability of 0.15 is 0.20 below it and most of the way to 0, while
0.55 is 0.20 above it and less than a third of the way to 1. In the review loop
(`benchmarks/review_loop.py`, docs/benchmarks.md) this order gained more over the cold start
after 200 reviews than the raw distance on both libraries measured.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def uncertainty(probabilities: ArrayLike, thresholds: ArrayLike) -> np.ndarray:
    """Per row of `probabilities` (passages x labels, or one passage's labels), the smallest
    relative distance to a threshold: 0 on a threshold, 1 at certainty."""
    p = np.asarray(probabilities, dtype=float)
    t = np.asarray(thresholds, dtype=float)
    d = p - t
    room = np.where(d < 0, t, 1.0 - t)
    return np.asarray((np.abs(d) / np.maximum(room, 1e-6)).min(axis=-1))
