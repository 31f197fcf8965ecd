"""Token buckets: a burst, then a steady pace; keys apart; memory bounded."""

import pytest

from bot.ratelimit import TokenBuckets


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_allowed_then_one_request_per_refill():
    ticks = Ticks()
    buckets = TokenBuckets(3, per=2.0, monotonic=ticks)
    assert [buckets.take("a") for _ in range(4)] == [True, True, True, False]
    assert buckets.wait("a") == pytest.approx(2.0)
    ticks.now += 1.9
    assert not buckets.take("a")
    ticks.now += 0.2
    assert buckets.take("a") and not buckets.take("a")


def test_one_key_emptied_leaves_the_others_alone():
    buckets = TokenBuckets(1, per=60, monotonic=Ticks())
    assert buckets.take("flood") and not buckets.take("flood")
    assert buckets.take("someone else")


def test_idle_buckets_refill_only_to_capacity():
    ticks = Ticks()
    buckets = TokenBuckets(2, per=1, monotonic=ticks)
    buckets.take("a")
    ticks.now += 3600
    assert [buckets.take("a") for _ in range(3)] == [True, True, False]


def test_a_flood_of_new_keys_keeps_the_table_bounded():
    buckets = TokenBuckets(1, per=60, max_keys=100, monotonic=Ticks())
    for number in range(10_000):
        buckets.take(f"key-{number}")
    assert len(buckets._buckets) == 100
