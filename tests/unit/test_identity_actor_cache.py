"""The token -> actor cache: bounded staleness, expiry on every hit, forgetting, no caching of failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine import clock
from engine.errors import Unauthorized
from engine.identity import Actor, ActorCache

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
ALICE = Actor("alice", frozenset({"market_dept"}))


class Reads:
    """A stand-in for the database: counts reads, answers what it holds now."""

    def __init__(self, actor: Actor | None = ALICE, expires_at: datetime = NOW + timedelta(hours=1)):
        self.actor, self.expires_at, self.count = actor, expires_at, 0
        self.during = None  # something that happens while the read is in flight

    def __call__(self, digest: str) -> tuple[Actor, datetime]:
        self.count += 1
        if self.during:
            self.during()
        if self.actor is None:
            raise Unauthorized("the token is unknown or expired")
        return self.actor, self.expires_at


class Ticks:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ticks():
    return Ticks()


@pytest.fixture
def cache(ticks):
    return ActorCache(ttl=5.0, monotonic=ticks)


def test_a_hit_within_the_ttl_reads_nothing(cache, ticks):
    reads = Reads()
    with clock.frozen(NOW):
        assert cache.actor("db", "tok", reads) == ALICE
        ticks.now += 4.9
        assert cache.actor("db", "tok", reads) == ALICE
    assert reads.count == 1


def test_after_the_ttl_the_database_is_asked_again_and_a_revocation_there_is_seen(cache, ticks):
    # Given a cached token that another process then revokes (the row is gone)
    reads = Reads()
    with clock.frozen(NOW):
        cache.actor("db", "tok", reads)
        reads.actor = None
        # When less than the TTL has passed, this process may still accept it (the documented bound)
        ticks.now += 4.0
        assert cache.actor("db", "tok", reads) == ALICE
        # Then once the TTL is over it is refused
        ticks.now += 1.0
        with pytest.raises(Unauthorized):
            cache.actor("db", "tok", reads)
    assert reads.count == 2


def test_an_expired_token_is_refused_on_a_hit_at_once(cache):
    reads = Reads(expires_at=NOW + timedelta(minutes=1))
    with clock.frozen(NOW):
        cache.actor("db", "tok", reads)
    with clock.frozen(NOW + timedelta(minutes=1)), pytest.raises(Unauthorized):
        cache.actor("db", "tok", reads)
    assert reads.count == 1  # refused from the entry itself, without a read


def test_forget_token_and_forget_user_take_effect_at_once(cache):
    reads = Reads()
    with clock.frozen(NOW):
        cache.actor("db", "tok", reads)
        cache.forget_token("tok")
        cache.actor("db", "tok", reads)
        assert reads.count == 2
        cache.forget_user("alice")
        cache.actor("db", "tok", reads)
        assert reads.count == 3
        cache.forget_user("bob")  # someone else: alice's entry stays
        cache.actor("db", "tok", reads)
        assert reads.count == 3


def test_a_read_that_raced_a_forget_is_not_stored(cache):
    # Given a miss whose read is in flight while the token is revoked in this process
    reads = Reads()
    reads.during = lambda: cache.forget_token("tok")
    with clock.frozen(NOW):
        cache.actor("db", "tok", reads)
        reads.during = None
        # Then what it read (from before the revocation) was not kept: the next request reads again
        cache.actor("db", "tok", reads)
    assert reads.count == 2


def test_failures_are_not_cached(cache):
    reads = Reads(actor=None)
    with clock.frozen(NOW):
        for _ in range(3):
            with pytest.raises(Unauthorized):
                cache.actor("db", "tok", reads)
    assert reads.count == 3


def test_entries_are_per_database_and_per_token(cache):
    reads = Reads()
    with clock.frozen(NOW):
        cache.actor("db1", "tok", reads)
        cache.actor("db2", "tok", reads)
        cache.actor("db1", "other", reads)
    assert reads.count == 3


def test_a_zero_ttl_turns_the_cache_off(ticks):
    cache = ActorCache(ttl=0, monotonic=ticks)
    reads = Reads()
    with clock.frozen(NOW):
        cache.actor("db", "tok", reads)
        cache.actor("db", "tok", reads)
    assert reads.count == 2


def test_the_cache_stays_bounded(ticks):
    cache = ActorCache(ttl=5.0, max_entries=10, monotonic=ticks)
    reads = Reads()
    with clock.frozen(NOW):
        for i in range(25):
            cache.actor("db", f"tok{i}", reads)
    assert len(cache._entries) <= 10
