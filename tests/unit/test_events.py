"""Connection events, decided from a remembered row and what a pass saw (by table)."""

from __future__ import annotations

import pytest

from tap_linkedin_connections.history.events import (
    Change,
    ConnectionEvent,
    Remembered,
    headline_changed,
    on_missing,
    on_seen,
    risen_above_newer,
)

ADDED = ConnectionEvent.ADDED
REMOVED = ConnectionEvent.REMOVED
RECONNECTED = ConnectionEvent.RECONNECTED
HEADLINE_CHANGED = ConnectionEvent.HEADLINE_CHANGED

KNOWN = Remembered(headline="CTO at Acme", rank=10)
GONE = Remembered(headline="CTO at Acme", removed=True, rank=10)

SEEN = [
    # (case, remembered, headline now, baseline set, risen, events)
    ("new, during the baseline pass", None, "CTO", False, False, ()),
    ("new, after the baseline", None, "CTO", True, False, (Change(ADDED, current="CTO"),)),
    ("known, unchanged", KNOWN, "CTO at Acme", True, False, ()),
    ("known, spacing only", KNOWN, "  CTO at Acme ", True, False, ()),
    ("known, headline unknown now", KNOWN, None, True, False, ()),
    (
        "known, new headline",
        KNOWN,
        "CEO at Globex",
        True,
        False,
        (Change(HEADLINE_CHANGED, "CTO at Acme", "CEO at Globex"),),
    ),
    (
        "headline emptied",
        KNOWN,
        "",
        True,
        False,
        (Change(HEADLINE_CHANGED, "CTO at Acme", ""),),
    ),
    (
        "headline never known before",
        Remembered(headline=None),
        "CTO",
        True,
        False,
        (),
    ),
    (
        "seen after a proven removal",
        GONE,
        "CTO at Acme",
        True,
        False,
        (Change(RECONNECTED, current="CTO at Acme"),),
    ),
    (
        "risen above newer connections",
        KNOWN,
        "CTO at Acme",
        True,
        True,
        (Change(RECONNECTED, current="CTO at Acme"),),
    ),
    (
        "reconnected with a new headline: two changes",
        GONE,
        "CEO at Globex",
        True,
        False,
        (
            Change(RECONNECTED, current="CEO at Globex"),
            Change(HEADLINE_CHANGED, "CTO at Acme", "CEO at Globex"),
        ),
    ),
]


@pytest.mark.parametrize(
    ("case", "remembered", "headline", "baseline_set", "risen", "events"),
    SEEN,
    ids=[row[0] for row in SEEN],
)
def test_a_connection_seen(case, remembered, headline, baseline_set, risen, events):
    assert on_seen(remembered, headline, baseline_set=baseline_set, risen=risen) == events, case


MISSING = [
    ("proven pass", KNOWN, True, (Change(REMOVED, previous="CTO at Acme"),)),
    ("unproven or incremental pass", KNOWN, False, ()),
    ("already removed", GONE, True, ()),
    ("already removed, unproven pass", GONE, False, ()),
]


@pytest.mark.parametrize(
    ("case", "remembered", "proven", "events"), MISSING, ids=[row[0] for row in MISSING]
)
def test_a_connection_a_pass_did_not_see(case, remembered, proven, events):
    assert on_missing(remembered, proven_complete=proven) == events, case


def test_once_the_memory_holds_the_result_the_same_call_gives_nothing():
    """Exactly one event per change: the decision depends on the remembered row only."""
    (removal,) = on_missing(KNOWN, proven_complete=True)
    after_removal = Remembered(headline=KNOWN.headline, removed=True, rank=KNOWN.rank)
    assert on_missing(after_removal, proven_complete=True) == ()
    (change,) = on_seen(KNOWN, "CEO", baseline_set=True)
    assert on_seen(Remembered(headline=change.current, rank=10), "CEO", baseline_set=True) == ()
    assert removal.event is REMOVED


@pytest.mark.parametrize(
    ("previous", "current", "changed"),
    [
        ("a", "a", False),
        ("a", "b", True),
        ("a", " a ", False),
        ("", "a", True),
        (None, "a", False),
        ("a", None, False),
        (None, None, False),
    ],
)
def test_headline_changed(previous, current, changed):
    assert headline_changed(previous, current) is changed


@pytest.mark.parametrize(
    ("ranks", "risen"),
    [
        ([], []),
        ([5, 4, 3], [False, False, False]),  # unchanged order
        ([None, None, 5, 4], [False, False, False, False]),  # new connections on top
        ([2, 5, 4, 3], [True, False, False, False]),  # 2 re-added: above newer ones
        ([None, 2, None, 5, 4, 3], [False, True, False, False, False, False]),
        ([3, 2, 5, 4], [True, True, False, False]),  # two re-added
        ([5, 3, 4], [False, True, False]),  # 3 above 4: 3 re-added
        ([5, 5], [False, False]),  # equal ranks are no order
        ([9], [False]),
    ],
)
def test_risen_above_connections_that_were_newer(ranks, risen):
    assert risen_above_newer(ranks) == risen


def test_event_values_are_what_the_stream_will_write():
    assert [e.value for e in ConnectionEvent] == [
        "added",
        "removed",
        "reconnected",
        "headline_changed",
        "job_changed",
    ]
