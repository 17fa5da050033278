"""Capped exponential backoff with jitter, reset by the first success after a failure streak."""

from __future__ import annotations

import random


class Backoff:
    """`next()` gives the delay before the next try: base·2ⁿ, capped, scaled by a 50–100 % jitter.

    Jitter keeps a fleet of workers that lost the kernel together from returning in lockstep.
    """

    def __init__(self, base: float = 0.5, cap: float = 30.0, *, jitter: bool = True) -> None:
        if base <= 0 or cap < base:
            raise ValueError("need 0 < base <= cap")
        self.base = base
        self.cap = cap
        self.jitter = jitter
        self.failures = 0

    def next(self) -> float:
        delay = min(self.cap, self.base * 2.0 ** min(self.failures, 62))
        self.failures += 1
        return delay * random.uniform(0.5, 1.0) if self.jitter else delay

    def reset(self) -> None:
        self.failures = 0
