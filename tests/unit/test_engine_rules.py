"""The engine's pure decisions, by table: what the queue proves, when a spare is free,
when a create counts for pacing, whose tasks a pass marks."""

from __future__ import annotations

import pytest

from tap_linkedin_connections.connections.pager import reader_of, spare_needed
from tap_linkedin_connections.engine.pacing import counted_at
from tap_linkedin_connections.engine.queue import QueueVerdict, Sighting, queue_verdict
from tap_linkedin_connections.outx.kinds import TaskStatus, status_of

PENDING, PROCESSING, COMPLETED, FAILED, UNKNOWN = (
    TaskStatus.PENDING,
    TaskStatus.PROCESSING,
    TaskStatus.COMPLETED,
    TaskStatus.FAILED,
    TaskStatus.UNKNOWN,
)


@pytest.mark.parametrize(
    ("head", "later", "verdict"),
    [
        # The head is picked up: nothing to prove.
        ((PROCESSING, 10), [], QueueVerdict.PICKED_UP),
        ((COMPLETED, 10), [(PENDING, 5)], QueueVerdict.PICKED_UP),
        ((UNKNOWN, 10), [], QueueVerdict.PICKED_UP),
        # Nothing queued after it: a sleeping extension and a lost task look alike.
        ((PENDING, 10), [], QueueVerdict.UNPROVABLE),
        # A later task picked up before the head was seen pending: the head is lost.
        ((PENDING, 10), [(PROCESSING, 9)], QueueVerdict.OVERTAKEN),
        ((PENDING, 10), [(COMPLETED, 10)], QueueVerdict.OVERTAKEN),
        ((PENDING, 10), [(PENDING, 8), (COMPLETED, 9)], QueueVerdict.OVERTAKEN),
        # ... seen after: the head may have been picked up in between; ask it again.
        ((PENDING, 10), [(PROCESSING, 11)], QueueVerdict.BEHIND),
        # Later tasks still pending (the extension sleeps) or not asked yet.
        ((PENDING, 10), [(PENDING, 9)], QueueVerdict.BEHIND),
        ((PENDING, 10), [None], QueueVerdict.BEHIND),
        # A failed or unknown later task proves nothing (OutX may fail a task itself).
        ((PENDING, 10), [(FAILED, 9)], QueueVerdict.UNPROVABLE),
        ((PENDING, 10), [(UNKNOWN, 9), (FAILED, 9)], QueueVerdict.UNPROVABLE),
    ],
)
def test_what_the_queue_proves(head, later, verdict):
    sightings = [None if s is None else Sighting(*s) for s in later]
    assert queue_verdict(Sighting(*head), sightings) is verdict


@pytest.mark.parametrize(
    ("said", "status"),
    [
        ("pending", PENDING),
        ("Processing", PROCESSING),
        (" COMPLETED ", COMPLETED),
        ("failed", FAILED),
        ("cancelled", UNKNOWN),
        ("", UNKNOWN),
    ],
)
def test_outx_statuses_map_once_to_an_enum(said, status):
    assert status_of(said) is status


@pytest.mark.parametrize(
    ("reads_to_end", "after_head", "expected_total", "needed"),
    [
        (True, 8, 40, True),  # pages 8-17 lie inside the list as last seen
        (True, 32, 40, False),  # the head (24-33) may be the last page
        (True, 30, 40, True),  # exactly a page to the end
        (True, 8, None, False),  # a first pass: the list may end at the head
        (False, 8, 4000, False),  # an incremental pass stops at what it knows
    ],
)
def test_a_spare_only_when_the_pass_needs_the_page_anyway(
    reads_to_end, after_head, expected_total, needed
):
    assert (
        spare_needed(
            reads_to_end=reads_to_end,
            after_head=after_head,
            page_size=10,
            expected_total=expected_total,
        )
        is needed
    )


@pytest.mark.parametrize(
    ("moment", "now", "first_seen", "counted"),
    [
        (100.0, 200.0, None, 100.0),  # the past counts as it is
        (300.0, 200.0, None, 200.0),  # the future, at first sight: now
        (300.0, 250.0, 200.0, 200.0),  # ... then it ages from when it was first seen
        (300.0, 400.0, 200.0, 200.0),  # ... even once the clock has caught up
    ],
)
def test_when_a_create_counts_for_pacing(moment, now, first_seen, counted):
    assert counted_at(moment, now, first_seen) == counted


def test_a_pass_has_one_reader_in_every_run_and_another_pass_another():
    full = {"identity": {"account": "a"}, "version": 7, "kind": "full", "page_size": 100}
    resumed = {**full, "next_offset": 800, "tasks": [{"offset": 800}]}
    assert reader_of(full) == reader_of(resumed)
    assert reader_of(full) != reader_of({**full, "kind": "incremental"})
    assert reader_of(full) != reader_of({**full, "version": 8})
    assert len(reader_of(full)) <= 32  # the ledger's read_by column
