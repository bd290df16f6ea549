"""Deterministic fake LinkedIn connections, in the two orders the OutX API pages them in.

Every connection is derived from (seed, serial) alone, where the serial counts the
connections ever made on the account, oldest first. So the same seed and the same
sequence of additions and removals always give the same list, and a new connection
never reuses the identity of an existing or removed one.
"""

from __future__ import annotations

import base64
import hashlib
import random
import re
import unicodedata
from datetime import datetime, timedelta, timezone
from typing import Any

# One connection as the API sends it; every value is a string or None.
Connection = dict[str, Any]

RECENTLY_ADDED = "RECENTLY_ADDED"

# The fields OutX documents, and the one it does not (which the tap must drop). Written
# out here rather than imported from the tap: the sandbox stands in for OutX, and must
# not change when the tap's idea of the API does.
DOCUMENTED_FIELDS = (
    "name",
    "first_name",
    "last_name",
    "headline",
    "public_identifier",
    "entity_urn",
    "profile_image_url",
)
EXTRA_FIELD = "connected_at"

# (first names, last names) by script: the tap and its loaders must carry any text unharmed.
NAME_POOLS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ascii": (
        ("Alice", "Bob", "Carol", "David", "Emma", "Frank", "Grace", "Henry", "Isla", "Jack"),
        ("Smith", "Johnson", "Brown", "Taylor", "Miller", "O'Brien", "Van der Berg", "Clark"),
    ),
    "accented": (
        ("Zoë", "José", "Renée", "François", "Jürgen", "Søren", "Inés", "Łukasz", "Ana María"),
        ("Åberg", "Núñez", "Müller", "Gonçalves", "Østergaard", "Dvořák", "Ibáñez", "Jäger"),
    ),
    "cjk": (
        ("王", "李", "张", "陈", "田中", "佐藤", "김"),
        ("小明", "娜", "伟", "秀英", "裕子", "健", "민준"),
    ),
    "arabic": (
        ("ليلى", "محمد", "فاطمة", "عمر", "يوسف", "نور"),
        ("حداد", "الخطيب", "منصور", "السيد", "عباس"),
    ),
}
SCRIPT_WEIGHTS = {"ascii": 70, "accented": 15, "cjk": 8, "arabic": 7}

ROLES = (
    "Software Engineer",
    "Product Manager",
    "Head of Sales",
    "Data Scientist",
    "Recruiter",
    "Founder & CEO",
    "Ingénieure logiciel",
    "プロダクトマネージャー",
)
COMPANIES = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Société Générale", "株式会社テスト")
ODD_HEADLINES = (
    "🚀 Building the future of work | ex-Google",
    'Data "wrangler", SQL\nand coffee',
    "Open to work",
)

# The oldest connections each show one edge case, so that even a tiny list has them all.
EDGE_CASE_SCRIPTS = {0: "accented", 1: "cjk", 2: "arabic"}
EMPTY_HEADLINE_SERIAL = 3
LONG_HEADLINE_SERIAL = 4
NO_PICTURE_SERIAL = 5

FIRST_CONNECTED_AT = datetime(2012, 1, 1, tzinfo=timezone.utc)
HOURS_BETWEEN_CONNECTIONS = 3


def make_connection(seed: int, serial: int) -> Connection:
    """The connection made as number `serial` (0 = oldest) on the account seeded `seed`."""
    rng = random.Random(f"{seed}/{serial}")
    script = (
        EDGE_CASE_SCRIPTS.get(serial)
        or rng.choices(list(SCRIPT_WEIGHTS), weights=list(SCRIPT_WEIGHTS.values()))[0]
    )
    first_names, last_names = NAME_POOLS[script]
    first_name, last_name = rng.choice(first_names), rng.choice(last_names)
    digest = hashlib.sha256(f"{seed}/{serial}".encode()).digest()
    urn_id = base64.urlsafe_b64encode(digest).decode()[:34]
    connected_at = FIRST_CONNECTED_AT + timedelta(
        hours=HOURS_BETWEEN_CONNECTIONS * (serial + rng.random())
    )
    return {
        "name": f"{first_name} {last_name}",
        "first_name": first_name,
        "last_name": last_name,
        "headline": _headline(rng, serial),
        "public_identifier": _public_identifier(seed, serial, f"{first_name} {last_name}"),
        "entity_urn": f"urn:li:fsd_profile:ACoAA{urn_id}",
        "profile_image_url": _picture_url(rng, serial, digest),
        EXTRA_FIELD: connected_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _headline(rng: random.Random, serial: int) -> str:
    roll = rng.random()
    if serial == EMPTY_HEADLINE_SERIAL or (serial != LONG_HEADLINE_SERIAL and roll < 0.04):
        return ""
    if serial == LONG_HEADLINE_SERIAL or roll < 0.06:
        # LinkedIn caps headlines at 220 characters, but longer text does leak through.
        sentence = f"{rng.choice(ROLES)} at {rng.choice(COMPANIES)}, passionate about people. "
        return sentence * (1 + 1200 // len(sentence))
    if roll < 0.10:
        return rng.choice(ODD_HEADLINES)
    return f"{rng.choice(ROLES)} at {rng.choice(COMPANIES)}"


def _public_identifier(seed: int, serial: int, name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or "member"
    # Multiplying by an odd constant modulo 2**36 is a bijection: the suffix is unique
    # per serial, yet looks random.
    mask = (1 << 36) - 1
    suffix = ((serial + 1) * 0x9E3779B97 ^ seed * 0x5851F42D) & mask
    return f"{slug}-{suffix:09x}"


def _picture_url(rng: random.Random, serial: int, digest: bytes) -> str | None:
    if serial == NO_PICTURE_SERIAL or rng.random() < 0.2:
        return None
    token = base64.urlsafe_b64encode(digest[8:26]).decode()
    return (
        f"https://media.licdn.com/dms/image/v2/D4E03AQ{token[:16]}/"
        f"profile-displayphoto-shrink_400_400/0/{1600000000000 + serial}?e=1767225600&v=beta"
        f"&t={token[16:]}"
    )


class ConnectionBook:
    """One account's connections, with adding and removing. Not thread-safe: lock outside."""

    def __init__(self, count: int, seed: int) -> None:
        if count < 0:
            raise ValueError("connections must be >= 0")
        self.seed = seed
        self._next_serial = 0
        self._oldest_first: list[Connection] = []
        # Removed connections by URN, so that a person can connect again as themselves.
        self._removed: dict[str, Connection] = {}
        # Both orders are cached, because every completed task pages one of them.
        self._orders: dict[bool, list[Connection]] = {}
        self.add(count)

    def __len__(self) -> int:
        return len(self._oldest_first)

    def add(self, count: int) -> list[Connection]:
        """Make `count` new connections, which become the newest; return them newest first."""
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError("count must be a non-negative integer")
        serials = range(self._next_serial, self._next_serial + count)
        added = [make_connection(self.seed, serial) for serial in serials]
        self._next_serial += count
        self._oldest_first.extend(added)
        self._orders.clear()
        return added[::-1]

    def remove(
        self, entity_urns: list[str] | None = None, positions: list[int] | None = None
    ) -> list[Connection]:
        """Remove connections by URN (unknown ones are ignored) and/or by newest-first
        position (which must exist); return the removed ones, newest first."""
        newest_first = self.ordered(RECENTLY_ADDED)
        doomed = set(entity_urns or ())
        for position in positions or ():
            if not isinstance(position, int) or not 0 <= position < len(newest_first):
                raise ValueError(f"no connection at position {position!r}")
            doomed.add(str(newest_first[position]["entity_urn"]))
        removed = [c for c in newest_first if c["entity_urn"] in doomed]
        self._oldest_first = [c for c in self._oldest_first if c["entity_urn"] not in doomed]
        self._removed.update((str(c["entity_urn"]), c) for c in removed)
        self._orders.clear()
        return removed

    def reconnect(self, entity_urns: list[str]) -> list[Connection]:
        """Connect again with people removed earlier (or still connected: removed and
        re-added at once), in the order given: each becomes the newest, with its own
        identity and headline and a connection date after every other. Returns them
        newest first; ValueError for a URN this book never held."""
        current = {str(c["entity_urn"]): c for c in self._oldest_first}
        back: list[Connection] = []
        for urn in entity_urns:
            connection = current.pop(urn, None) or self._removed.pop(urn, None)
            if connection is None:
                raise ValueError(f"no connection, current or removed, with entity_urn {urn!r}")
            self._oldest_first = [c for c in self._oldest_first if c["entity_urn"] != urn]
            connected_at = FIRST_CONNECTED_AT + timedelta(
                hours=HOURS_BETWEEN_CONNECTIONS * (self._next_serial + len(back))
            )
            connection[EXTRA_FIELD] = connected_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            self._oldest_first.append(connection)
            back.append(connection)
        self._orders.clear()
        return back[::-1]

    def ordered(self, sort_type: str | None) -> list[Connection]:
        """All connections in the order the API uses for `sort_type`. Do not mutate."""
        newest = sort_type == RECENTLY_ADDED
        if newest not in self._orders:
            if newest:
                self._orders[newest] = self._oldest_first[::-1]
            else:
                # LinkedIn's "relevance" order: fixed per connection, unrelated to age.
                self._orders[newest] = sorted(self._oldest_first, key=self._relevance)
        return self._orders[newest]

    def matching(self, sort_type: str | None, keyword: str | None) -> list[Connection]:
        """Connections whose name contains `keyword` (any case), in the API's order."""
        ordered = self.ordered(sort_type)
        if not keyword:
            return ordered
        needle = keyword.casefold()
        return [c for c in ordered if needle in str(c["name"]).casefold()]

    def page(
        self, sort_type: str | None, keyword: str | None, start: int, count: int
    ) -> list[Connection]:
        return self.matching(sort_type, keyword)[start : start + count]

    def _relevance(self, connection: Connection) -> bytes:
        return hashlib.sha256(f"{self.seed}/relevance/{connection['entity_urn']}".encode()).digest()
