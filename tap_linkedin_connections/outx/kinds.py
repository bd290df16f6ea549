"""What OutX's tasks are: their statuses, and each kind of task the tap creates.

Every ``/linkedin-agent/*`` endpoint queues a *task* of its own kind; all kinds are
polled through the same status endpoint and paid for from the same account budget. A
:class:`TaskKind` declares what differs: the create endpoint, the body built from a
*key* (what identifies one task of the kind: the task ledger finds earlier tasks by
it), and the reader of a completed task's output. The engine (``engine/``) runs any
kind; adding one is declaring it here.

OutX's status strings are mapped to :class:`TaskStatus` once, by ``status_of``, where
the client reads the answer; nothing else compares status strings.

Nothing here does I/O, and nothing here imports the rest of the tap.
"""

from __future__ import annotations

import enum
import typing as t
from dataclasses import dataclass

Key = t.TypeVar("Key")
Output = t.TypeVar("Output")


class TaskStatus(enum.Enum):
    """Where a task stands, as far as the tap is concerned."""

    PENDING = "pending"  # queued, not picked up by the extension yet
    PROCESSING = "processing"  # picked up
    COMPLETED = "completed"  # its output is ready
    FAILED = "failed"
    #: A status OutX does not document: never success; the tap keeps waiting (and
    #: says so once), and the task timeout re-submits it if it never completes.
    UNKNOWN = "unknown"


def status_of(said: str) -> TaskStatus:
    """OutX's status string as a TaskStatus (case-insensitive)."""
    try:
        return TaskStatus(said.strip().lower())
    except ValueError:
        return TaskStatus.UNKNOWN


@dataclass(frozen=True)
class TaskAnswer:
    """One answer of the task-status endpoint."""

    status: TaskStatus
    said: str  # OutX's own word, for messages (e.g. 'cancelled' for an UNKNOWN)
    output: t.Any = None  # the result once COMPLETED


class UnreadableOutput(ValueError):
    """A completed task's output is not what its kind reads. One line."""


@dataclass(frozen=True)
class TaskKind(t.Generic[Key, Output]):
    """One kind of OutX task.

    Attributes:
        name: how the task ledger names the kind (never change it: the ledger's rows
            are found by it).
        path: the create endpoint.
        body: the create request's JSON body for a key.
        key_fields: the key as JSON fields, which the ledger keys tasks by (equal keys,
            equal fields; never change them for a kind, or its ledger rows are lost).
        describe: how messages name one task of the kind ("offset 40").
        read: the completed output as the kind's result; UnreadableOutput if it is not.
        read_failed: for a kind whose failed task is an answer, the failed task's output
            as the kind's result; None (the default): a failed task is created again,
            up to max_task_attempts. A profile that does not exist or is hidden fails
            the same way every time: creating it again would pay another view for
            the same answer.
    """

    name: str
    path: str
    body: t.Callable[[Key], dict[str, t.Any]]
    key_fields: t.Callable[[Key], dict[str, t.Any]]
    describe: t.Callable[[Key], str]
    read: t.Callable[[t.Any], Output]
    read_failed: t.Callable[[t.Any], Output] | None = None


# fetch-connections: one page of the account's 1st-degree connections

#: The fields of a connection as OutX documents them.
CONNECTION_FIELDS = (
    "name",
    "first_name",
    "last_name",
    "headline",
    "public_identifier",
    "entity_urn",
    "profile_image_url",
)


@dataclass(frozen=True)
class PageKey:
    """One page of the connections list: the query, the page size and the offset."""

    query: tuple[tuple[str, str], ...]  # the body's fields but start and count, sorted
    page_size: int
    offset: int

    @classmethod
    def of(cls, query: t.Mapping[str, str], page_size: int, offset: int) -> PageKey:
        return cls(tuple(sorted(query.items())), page_size, offset)


def connections_in(output: t.Any) -> list[t.Any]:
    """The list of connections in a completed task's ``task_output``.

    OutX does not document the exact shape: it may be the list itself or an object
    holding it. Anything else is UnreadableOutput.
    """
    if isinstance(output, list):
        return output
    if isinstance(output, dict):
        for key in ("connections", "data", "results", "items", "elements"):
            if isinstance(output.get(key), list):
                return t.cast("list[t.Any]", output[key])
        keys = ", ".join(repr(k)[:30] for k in sorted(map(str, output))[:8]) or "none"
        msg = f"the task result is an object without a list of connections (keys: {keys})"
        raise UnreadableOutput(msg)
    msg = f"the task result is a {type(output).__name__}, not a list of connections"
    raise UnreadableOutput(msg)


def _page_body(key: PageKey) -> dict[str, t.Any]:
    return {**dict(key.query), "start": key.offset, "count": key.page_size}


def _page_fields(key: PageKey) -> dict[str, t.Any]:
    # The names the task ledger's first schema used (query, page_size, offset): its
    # rows, migrated, are found by these (see engine/ledger.py).
    return {"query": dict(key.query), "page_size": key.page_size, "offset": key.offset}


CONNECTIONS_PAGE: TaskKind[PageKey, list[t.Any]] = TaskKind(
    name="connections_page",
    path="/linkedin-agent/fetch-connections",
    body=_page_body,
    key_fields=_page_fields,
    describe=lambda key: f"offset {key.offset}",
    read=connections_in,
)


# fetch-profile: one connection's LinkedIn profile (one profile view)


@dataclass(frozen=True)
class ProfileKey:
    """One connection's profile: its URN (what the ledger keys the task by: a slug may
    change, the URN does not) and the slug fetch-profile asks for."""

    entity_urn: str
    slug: str


@dataclass(frozen=True)
class ProfileAnswer:
    """A fetch-profile task's output as OutX gave it, and whether the task failed.

    Read no further here: the result's shape is not settled (profiles/records.py reads
    both known ones, and keeps any other whole).
    """

    output: t.Any
    failed: bool = False


FETCH_PROFILE: TaskKind[ProfileKey, ProfileAnswer] = TaskKind(
    name="profile",
    path="/linkedin-agent/fetch-profile",
    body=lambda key: {"profile_slug": key.slug},
    key_fields=lambda key: {"entity_urn": key.entity_urn},
    describe=lambda key: f"profile {key.slug}",
    read=ProfileAnswer,
    read_failed=lambda output: ProfileAnswer(output, failed=True),
)
