"""The table version the accounts share: when a new one begins, when it is activated,
and that it only grows."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tap_linkedin_connections.accounts import versions

# The table version shared by the accounts


def _bookmark_at(version: int, proved: int | None = None) -> versions.VersionMarks:
    bookmark: versions.VersionMarks = {"version": version}
    if proved is not None:
        bookmark["proved"] = proved
    return bookmark


def test_the_first_run_begins_a_table_version():
    table = versions.table_for_run(
        None, {"a": {}}, {"a": "no pass"}, full_refresh=False, new_version=9
    )
    assert table == {"version": 9, "activated": False}


def test_an_unfinished_version_goes_on_even_under_full_refresh():
    pending: versions.Table = {"version": 5, "activated": False}
    bookmarks = {"a": _bookmark_at(5, proved=5), "b": _bookmark_at(3, proved=3)}
    for full_refresh in (False, True):
        table = versions.table_for_run(
            pending, bookmarks, {"a": "", "b": ""}, full_refresh=full_refresh, new_version=9
        )
        assert table is pending
    assert versions.joins_round(pending, bookmarks["b"])
    assert not versions.joins_round(pending, bookmarks["a"])


def test_a_new_version_needs_every_account_to_read_its_whole_list():
    active: versions.Table = {"version": 5, "activated": True}
    bookmarks = {"a": _bookmark_at(5, proved=5), "b": {}}
    # One account without a bookmark reads its list under the version in use.
    same = versions.table_for_run(
        active, bookmarks, {"a": "", "b": "no pass"}, full_refresh=False, new_version=9
    )
    assert same is active
    assert not versions.joins_round(active, {})
    for needs_full, full_refresh in (({"a": "x", "b": "y"}, False), ({"a": "", "b": ""}, True)):
        table = versions.table_for_run(
            active, bookmarks, needs_full, full_refresh=full_refresh, new_version=9
        )
        assert table == {"version": 9, "activated": False}


def test_a_version_whose_passes_ended_but_did_not_all_prove_waits_for_a_full_refresh():
    refused: versions.Table = {"version": 5, "activated": False}
    bookmarks = {"a": _bookmark_at(5, proved=5), "b": _bookmark_at(5, proved=3)}
    needs_full = {"a": "", "b": ""}
    kept = versions.table_for_run(refused, bookmarks, needs_full, full_refresh=False, new_version=9)
    assert kept is refused
    assert not versions.activation_due(refused, bookmarks.values())
    fresh = versions.table_for_run(refused, bookmarks, needs_full, full_refresh=True, new_version=9)
    assert fresh == {"version": 9, "activated": False}


def test_activation_is_due_once_every_account_proved_the_version():
    table: versions.Table = {"version": 5, "activated": False}
    assert versions.activation_due(table, [_bookmark_at(5, 5), _bookmark_at(5, 5)])
    assert not versions.activation_due(table, [_bookmark_at(5, 5), {}])
    assert not versions.activation_due({"version": 5, "activated": True}, [_bookmark_at(5, 5)])


# Table versions only grow (point 5)


@pytest.mark.parametrize(
    ("clock", "known", "version"),
    [
        (1_000, [], 1_000),
        (1_000, [500, 999], 1_000),
        (1_000, [1_000], 1_001),  # the same millisecond as the version loaded
        (1_000, [5_000, 3], 5_001),  # the clock went back below a loaded version
        (1_000, [Decimal(7_000)], 7_001),  # from a STATE file
    ],
)
def test_a_new_table_version_is_above_every_known_one(
    clock: int, known: list[int], version: int
) -> None:
    assert versions.next_table_version(clock, known) == version


def test_the_versions_a_state_knows() -> None:
    slots = [
        {"bookmark": {"version": 4, "proved": 3}, "pass": {"version": 6}},
        {"bookmark": {}},
        {},
    ]
    assert sorted(versions.versions_in({"version": 5, "activated": True}, slots)) == [3, 4, 5, 6]
    assert versions.versions_in(None, []) == []
