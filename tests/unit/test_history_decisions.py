"""The pure decisions of the network history (history/observe.py), by table."""

from __future__ import annotations

import pytest

from tap_linkedin_connections.history.events import Change, ConnectionEvent
from tap_linkedin_connections.history.observe import (
    PASS_WINDOW,
    STEP,
    Known,
    Pending,
    Progress,
    Seen,
    Waiting,
    first_seen,
    in_baseline,
    pass_base,
    place_page,
    provisional_rank,
    removal,
    risen,
    risen_above,
    was_seen,
)

BASE = pass_base(0)


def known(rank: int | None, *, removed: bool = False, seen_pass: str | None = "old") -> Known:
    return Known(headline="h", removed=removed, rank=rank, seen_pass=seen_pass)


@pytest.mark.parametrize(
    ("prev_rank", "position", "expected"),
    [
        (None, 0, BASE),  # the first of the pass: the top of its window
        (None, 3, BASE - 3 * STEP),
        (BASE, 1, BASE - STEP),  # below a new one at the top: its own place
        (500, 1, 499),  # below an old connection: just below it, never above
        (BASE - 7, 0, BASE - 8),
    ],
)
def test_provisional_rank(prev_rank: int | None, position: int, expected: int) -> None:
    progress = Progress("p", BASE, prev_rank=prev_rank)
    assert provisional_rank(progress, position) == expected


@pytest.mark.parametrize(
    ("prev_rank", "below", "expected"),
    [
        (500, 300, 499),  # between the one above and the one below: just below the above
        (200, 300, 301),  # the one above is older than the one below (read out of order)
        (None, BASE, BASE + 1),  # never under a ranked one below it on its page
    ],
)
def test_provisional_rank_stays_above_the_one_below(
    prev_rank: int | None, below: int, expected: int
) -> None:
    progress = Progress("p", BASE, prev_rank=prev_rank)
    assert provisional_rank(progress, 0, below=below) == expected


def test_a_pass_window_is_above_every_rank_given() -> None:
    assert pass_base(BASE) == BASE + PASS_WINDOW > BASE


PLACE = [
    # (case, remembered, page, ranked, baseline set, [(urn, rank, pending, events)])
    (
        "new at the top, after the baseline",
        {},
        ["n"],
        True,
        True,
        [("n", BASE, Pending.PROVISIONAL, (ConnectionEvent.ADDED,))],
    ),
    (
        "new before the baseline: no event",
        {},
        ["n"],
        True,
        False,
        [("n", BASE, Pending.PROVISIONAL, ())],
    ),
    (
        "known keeps its rank and waits",
        {"k": known(500)},
        ["k"],
        True,
        True,
        [("k", 500, Pending.KNOWN, ())],
    ),
    (
        "new below a known one: just below it",
        {"k": known(500)},
        ["k", "n"],
        True,
        True,
        [("k", 500, Pending.KNOWN, ()), ("n", 499, Pending.PROVISIONAL, (ConnectionEvent.ADDED,))],
    ),
    (
        "back after a proven removal: re-connected, ranked anew",
        {"k": known(500, removed=True)},
        ["k"],
        True,
        True,
        [("k", BASE, Pending.PROVISIONAL, (ConnectionEvent.RECONNECTED,))],
    ),
    (
        "read by this pass already (a page read again): left out",
        {"k": known(500, seen_pass="p")},
        ["k", "k"],
        True,
        True,
        [],
    ),
    (
        "relevance order: no rank, nothing waits",
        {"k": known(500)},
        ["n", "k"],
        False,
        True,
        [("n", None, None, (ConnectionEvent.ADDED,)), ("k", 500, None, ())],
    ),
]


@pytest.mark.parametrize(
    ("remembered", "page", "ranked", "baseline_set", "expected"),
    [case[1:] for case in PLACE],
    ids=[case[0] for case in PLACE],
)
def test_place_page(remembered, page, ranked, baseline_set, expected) -> None:
    progress = Progress("p", BASE)
    placed = place_page(
        progress, remembered, [Seen(u, "h") for u in page], ranked=ranked, baseline_set=baseline_set
    )
    assert [
        (p.entity_urn, p.rank, p.pending, tuple(c.event for c in p.changes)) for p in placed
    ] == expected
    assert progress.position == len(expected)


def test_risen_within_a_page_and_from_earlier_pages() -> None:
    progress = Progress("p", BASE, position=5)
    remembered = {"x": known(100), "k": known(900), "y": known(50)}
    placed = place_page(
        progress, remembered, [Seen("x", "h"), Seen("k", "h")], ranked=True, baseline_set=True
    )
    earlier = [
        Waiting("e", 300, 1, Pending.KNOWN, "old h"),  # below k's 900: rose
        Waiting("p1", 400, 2, Pending.PROVISIONAL, "h"),  # new one below k: re-ranked, no event
    ]
    rises = risen(progress, placed, earlier, baseline_set=True)
    by_urn = {r.entity_urn: r for r in rises}
    assert set(by_urn) == {"e", "p1", "x"}
    assert by_urn["e"].change == Change(ConnectionEvent.RECONNECTED, current="old h")
    assert by_urn["p1"].change is None
    assert by_urn["x"].change == Change(ConnectionEvent.RECONNECTED, current="h")
    assert by_urn["e"].rank == BASE - 1 * STEP
    assert by_urn["x"].rank == BASE - 5 * STEP


def test_no_event_for_a_rise_before_the_baseline() -> None:
    progress = Progress("p", BASE)
    rises = risen_above(
        progress, [Waiting("e", 300, 0, Pending.KNOWN, "h")], 900, baseline_set=False
    )
    assert [(r.entity_urn, r.change) for r in rises] == [("e", None)]


@pytest.mark.parametrize(
    ("anchor", "risen_urns"),
    [(1000, {"a", "b"}), (350, {"a"}), (100, set())],
)
def test_risen_above_the_old_list(anchor: int, risen_urns: set[str]) -> None:
    waiting = [
        Waiting("a", 300, 0, Pending.KNOWN, "h"),
        Waiting("b", 400, 1, Pending.KNOWN, "h"),
    ]
    rises = risen_above(Progress("p", BASE), waiting, anchor, baseline_set=True)
    assert {r.entity_urn for r in rises} == risen_urns


@pytest.mark.parametrize(
    ("seen_pass", "last_seen_at", "expected"),
    [
        ("p", 10.0, True),  # read by this pass
        ("q", 150.0, True),  # read by another pass since this one started
        ("q", 99.0, False),  # read before it started, by another: gone
        (None, 50.0, False),
    ],
)
def test_was_seen(seen_pass: str | None, last_seen_at: float, expected: bool) -> None:
    assert was_seen(seen_pass, last_seen_at, pass_id="p", started_at=100.0) is expected


@pytest.mark.parametrize(
    ("row", "baseline_set", "expected"),
    [
        (known(5), True, Change(ConnectionEvent.REMOVED, previous="h")),
        (known(5), False, None),  # the baseline pass marks it, silently
        (known(5, removed=True), True, None),  # removed already
    ],
)
def test_removal(row: Known, baseline_set: bool, expected: Change | None) -> None:
    assert removal(row, baseline_set=baseline_set) == expected


@pytest.mark.parametrize(
    ("first", "connected_on_at", "baseline", "expected"),
    [
        (1000.0, 200.0, True, 200.0),  # there at the baseline: the export's day
        (1000.0, None, True, 1000.0),  # no date known
        (1000.0, 200.0, False, 1000.0),  # added later: when the tap saw it
        (1000.0, 5000.0, True, 1000.0),  # a date after the first read: the read
    ],
)
def test_first_seen(
    first: float, connected_on_at: float | None, baseline: bool, expected: float
) -> None:
    assert first_seen(first, connected_on_at, baseline=baseline) == expected


@pytest.mark.parametrize(
    ("first_seen_at", "baseline_at", "expected"),
    [(10.0, None, True), (10.0, 10.0, True), (10.0, 20.0, True), (30.0, 20.0, False)],
)
def test_in_baseline(first_seen_at: float, baseline_at: float | None, expected: bool) -> None:
    assert in_baseline(first_seen_at, baseline_at) is expected
