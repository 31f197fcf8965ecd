"""Token buckets: how many requests a visitor or an address may make, refilled at a steady rate.

In memory and per process: a limit that forgets on restart is still a limit, and nothing about a person
is written anywhere. Keys are keyed hashes chosen by the caller; the table holds at most `max_keys` of them,
dropping the fullest (least recently limited) buckets first, so a flood of new keys cannot grow memory.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """`capacity` requests at once, then one every `per` seconds, for each key."""

    def __init__(self, capacity: int, per: float, *, max_keys: int = 10_000, monotonic: Callable[[], float] = time.monotonic) -> None:
        if capacity < 1 or per <= 0:
            raise ValueError("a bucket needs room for one request and a positive refill time")
        self.capacity = capacity
        self.per = per
        self.max_keys = max_keys
        self._monotonic = monotonic
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str) -> bool:
        """True when the key may go ahead now (a token is used), False when it must wait."""
        now = self._monotonic()
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = _Bucket(float(self.capacity), now)
        bucket.tokens = min(float(self.capacity), bucket.tokens + (now - bucket.at) / self.per)
        bucket.at = now
        allowed = bucket.tokens >= 1
        if allowed:
            bucket.tokens -= 1
        self._buckets[key] = bucket  # most recently used last
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)  # the oldest: long idle, so full again anyway
        return allowed

    def wait(self, key: str) -> float:
        """Seconds until the key may go ahead again (0 when it may now)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        tokens = min(float(self.capacity), bucket.tokens + (self._monotonic() - bucket.at) / self.per)
        return max(0.0, (1 - tokens) * self.per)
