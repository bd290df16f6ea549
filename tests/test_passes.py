"""The pure decisions of a pass (passes.py), in process: joins, bridges, guards, STATE."""

from __future__ import annotations

import random
import typing as t
from decimal import Decimal

import pytest

from tap_linkedin_connections import passes


def simulate(
    listing: list[str],
    page_size: int,
    change: t.Callable[[int, list[str]], None] = lambda reads, listing: None,
) -> tuple[set[str], int, str]:
    """A full pass driven by place_page over a list that ``change`` alters before each
    read; (connections emitted, pages read, why continuity was lost or "").

    ``listing`` is left as the pass ends, so ``set(listing)`` is what is live then."""
    progress: dict[str, t.Any] = {}
    emitted: set[str] = set()
    next_offset, bridge, reads, lost = 0, None, 0, ""
    while reads < 1000:
        change(reads, listing)
        offset = bridge if bridge is not None else next_offset
        page = listing[offset : offset + page_size]
        reads += 1
        emitted.update(page)
        step = passes.place_page(progress, offset, page, page_size, bridge=bridge is not None)
        lost = lost or step.lost
        next_offset, bridge = step.next_offset, step.bridge
        if step.end and bridge is None:
            return emitted, reads, lost
    raise AssertionError("the pass never ended")


def names(count: int, prefix: str = "c") -> list[str]:
    return [f"{prefix}{i}" for i in range(count)]


def test_an_undisturbed_pass_costs_the_pages_of_the_overlap_formula() -> None:
    for total in (0, 1, 99, 100, 101, 1234, 3000):
        emitted, reads, lost = simulate(names(total), 100)
        assert emitted == set(names(total))
        assert reads == passes.tasks_for_full_pass(total, 100)
        assert lost == ""
    # 3,000 connections: 31 tasks, as without overlap (the end must be seen short).
    assert passes.tasks_for_full_pass(3000, 100) == 31


def test_overlap_is_small_and_leaves_a_stride() -> None:
    assert [passes.overlap_for(p) for p in (2, 3, 7, 8, 12, 100)] == [1, 1, 1, 2, 3, 3]
    assert all(passes.stride_for(p) >= 1 for p in range(2, 101))


@pytest.mark.parametrize("removed_at_once", [1, 2, 20, 96, 150, 400])
def test_removals_above_the_read_position_are_bridged(removed_at_once: int) -> None:
    listing = names(3000)

    def remove(reads: int, current: list[str]) -> None:
        if reads == 10:  # pages 0-9 are read; remove above the read position
            del current[500 : 500 + removed_at_once]

    emitted, reads, lost = simulate(listing, 100, remove)
    assert lost == ""
    assert set(listing) <= emitted  # not one live connection missed
    minimum = passes.tasks_for_full_pass(len(listing), 100)
    # One bridge covers up to page_size - 2 * overlap removals.
    assert reads <= minimum + 1 + removed_at_once // 94


def test_one_removal_between_each_read_costs_nothing() -> None:
    listing = names(3000)
    rng = random.Random(3)

    def remove(reads: int, current: list[str]) -> None:
        if 0 < reads <= 20:
            del current[rng.randrange(0, 97 * reads)]

    emitted, reads, lost = simulate(listing, 100, remove)
    assert set(listing) <= emitted
    assert lost == ""
    assert reads == passes.tasks_for_full_pass(3000, 100)


def test_additions_during_a_pass_are_harmless() -> None:
    listing = names(1000)

    def add(reads: int, current: list[str]) -> None:
        if reads in (3, 4):
            current[0:0] = names(150, prefix=f"n{reads}-")

    original = set(listing)
    emitted, _, lost = simulate(listing, 100, add)
    assert original <= emitted
    assert lost == ""


def test_removals_that_empty_the_end_of_the_list_are_bridged() -> None:
    listing = names(1000)

    def remove(reads: int, current: list[str]) -> None:
        if reads == 10:  # the next read (offset 970) falls past the end
            del current[0:50]

    emitted, _, lost = simulate(listing, 100, remove)
    assert set(listing) <= emitted
    assert lost == ""


def test_random_changes_never_hide_a_live_connection_unless_said_so() -> None:
    unproven = 0
    for seed in range(200):
        rng = random.Random(seed)
        listing = names(rng.randrange(0, 1500))
        serial = iter(range(10**6))

        def change(
            reads: int,
            current: list[str],
            rng: random.Random = rng,
            serial: t.Iterator[int] = serial,
        ) -> None:
            # Changes for the first 20 reads only: a list that grows faster than it is
            # read never ends.
            for _ in range(rng.choice([0, 0, 1, 3, 30]) if reads < 20 else 0):
                if current and rng.random() < 0.7:
                    del current[rng.randrange(len(current))]
                else:
                    current.insert(0, f"new{next(serial)}")

        original = set(listing)
        emitted, _, lost = simulate(listing, rng.choice([10, 50, 100]), change)
        if not lost:
            # Every connection live from start to end was read.
            assert original & set(listing) <= emitted, seed
        unproven += bool(lost)
    # Up to 30 changes between two reads of 10 can outrun the bridges; rarely.
    assert unproven <= 5


def test_a_gap_that_no_bridge_closes_loses_continuity() -> None:
    listing = names(3000)

    def remove(reads: int, current: list[str]) -> None:
        if reads == 5:
            del current[0:2000]

    _emitted, _, lost = simulate(listing, 100, remove)
    assert "bridge" in lost or "reach" in lost


def test_joins_needs_a_shared_connection() -> None:
    assert passes.joins(["a", "b", "c"], ["c", "d"])
    assert not passes.joins(["a", "b"], ["c", "d"])
    assert not passes.joins([], ["a"])


def test_boundary_skips_a_contact_who_reconnected_above_new_ones() -> None:
    known = ["k0", "k1", "k2", "k3"]
    # k2 re-connected: it sits alone above the new ones.
    assert passes.boundary(["k2", "n1", "n2", "k0", "k1", "k3"], known) == 3
    assert passes.boundary(["n1", "k0", "k1"], known) == 1
    assert passes.boundary(["n1", "n2", "k0"], known) is None  # the next page decides
    assert passes.boundary(["n1", "k0", "k3"], known) == 1  # k1 and k2 were removed


@pytest.mark.parametrize(
    ("total", "last", "fraction", "refused"),
    [
        (1000, 1000, 0.1, ""),
        (901, 1000, 0.1, ""),
        (899, 1000, 0.1, "101 fewer"),
        (10, 1000, 1.0, ""),
        (0, 1000, 1.0, "no connections"),
        (0, None, 0.1, ""),
        (0, 0, 0.1, ""),
    ],
)
def test_activate_refusal(total: int, last: int | None, fraction: float, refused: str) -> None:
    why = passes.activate_refusal(
        lost="", total=total, last_total=last, max_deleted_fraction=fraction
    )
    assert (refused in why) if refused else why == ""
    assert "continuity" in passes.activate_refusal(
        lost="x", total=total, last_total=last, max_deleted_fraction=fraction
    )


GOOD_PASS = {
    "kind": "full",
    "identity": {},
    "version": 1,
    "page_size": 100,
    "next_offset": 97,
    "tail": ["urn:li:fsd_profile:A"],
}


@pytest.mark.parametrize(
    ("state", "problem"),
    [
        ({"bookmark": []}, "'bookmark' is a list"),
        ({"bookmark": {"newest": "urn:li:x"}}, "'bookmark.newest'"),
        ({"bookmark": {"total": -3}}, "'bookmark.total'"),
        ({"pass": "full"}, "'pass' is a str"),
        ({"pass": {**GOOD_PASS, "next_offset": -100}}, "'pass.next_offset'"),
        ({"pass": {**GOOD_PASS, "next_offset": 1.5}}, "'pass.next_offset'"),
        ({"pass": {**GOOD_PASS, "kind": "weekly"}}, "'pass.kind'"),
        ({"pass": {**GOOD_PASS, "tasks": [{"offset": -5}]}}, "'pass.tasks'"),
        ({"pass": {**GOOD_PASS, "tasks": {}}}, "'pass.tasks'"),
        ({"pass": {**GOOD_PASS, "tail": "urn"}}, "'pass.tail'"),
        ({"task_window": "2026-01-01"}, "'task_window'"),
        ({"pass": {**GOOD_PASS, "tail": []}}, "'pass.tail' is missing"),
    ],
)
def test_state_of_the_wrong_shape_is_named(state: dict[str, t.Any], problem: str) -> None:
    (key,) = state
    assert problem in passes.state_problems({**state, "other": 1})[key]


def test_good_state_passes_with_decimals_from_a_state_file() -> None:
    current = {**GOOD_PASS, "next_offset": Decimal("1E+2"), "tasks": [{"offset": Decimal(97)}]}
    assert passes.state_problems({"pass": current, "bookmark": {"total": Decimal(5)}}) == {}
    assert passes.state_problems({}) == {}


# The table version shared by the accounts


def _bookmark_at(version: int, proved: int | None = None) -> passes.Bookmark:
    bookmark: passes.Bookmark = {"version": version, "newest": ["urn:a"]}
    if proved is not None:
        bookmark["proved"] = proved
    return bookmark


def test_the_first_run_begins_a_table_version():
    table = passes.table_for_run(
        None, {"a": {}}, {"a": "no pass"}, full_refresh=False, new_version=9
    )
    assert table == {"version": 9, "activated": False}


def test_an_unfinished_version_goes_on_even_under_full_refresh():
    pending: passes.Table = {"version": 5, "activated": False}
    bookmarks = {"a": _bookmark_at(5, proved=5), "b": _bookmark_at(3, proved=3)}
    for full_refresh in (False, True):
        table = passes.table_for_run(
            pending, bookmarks, {"a": "", "b": ""}, full_refresh=full_refresh, new_version=9
        )
        assert table is pending
    assert passes.joins_round(pending, bookmarks["b"])
    assert not passes.joins_round(pending, bookmarks["a"])


def test_a_new_version_needs_every_account_to_read_its_whole_list():
    active: passes.Table = {"version": 5, "activated": True}
    bookmarks = {"a": _bookmark_at(5, proved=5), "b": {}}
    # One account without a bookmark reads its list under the version in use.
    same = passes.table_for_run(
        active, bookmarks, {"a": "", "b": "no pass"}, full_refresh=False, new_version=9
    )
    assert same is active
    assert not passes.joins_round(active, {})
    for needs_full, full_refresh in (({"a": "x", "b": "y"}, False), ({"a": "", "b": ""}, True)):
        table = passes.table_for_run(
            active, bookmarks, needs_full, full_refresh=full_refresh, new_version=9
        )
        assert table == {"version": 9, "activated": False}


def test_a_version_whose_passes_ended_but_did_not_all_prove_waits_for_a_full_refresh():
    refused: passes.Table = {"version": 5, "activated": False}
    bookmarks = {"a": _bookmark_at(5, proved=5), "b": _bookmark_at(5, proved=3)}
    needs_full = {"a": "", "b": ""}
    kept = passes.table_for_run(refused, bookmarks, needs_full, full_refresh=False, new_version=9)
    assert kept is refused
    assert not passes.activation_due(refused, bookmarks.values())
    fresh = passes.table_for_run(refused, bookmarks, needs_full, full_refresh=True, new_version=9)
    assert fresh == {"version": 9, "activated": False}


def test_activation_is_due_once_every_account_proved_the_version():
    table: passes.Table = {"version": 5, "activated": False}
    assert passes.activation_due(table, [_bookmark_at(5, 5), _bookmark_at(5, 5)])
    assert not passes.activation_due(table, [_bookmark_at(5, 5), {}])
    assert not passes.activation_due({"version": 5, "activated": True}, [_bookmark_at(5, 5)])
