"""A connection as OutX gives it -> a RECORD of the `connections` stream, in one place."""

from __future__ import annotations

import typing as t
from urllib.parse import quote

from tap_linkedin_connections.history.enrich import RecordEnricher
from tap_linkedin_connections.outx.client import MalformedPage
from tap_linkedin_connections.outx.kinds import CONNECTION_FIELDS

if t.TYPE_CHECKING:
    from tap_linkedin_connections.connections.pager import Page

PROFILE_URL_PREFIX = "https://www.linkedin.com/in/"


#: Records without an export: OutX's date and extra keys only, no warning.
PLAIN = RecordEnricher()


def to_record(
    connection: t.Any, page: Page, index: int, account: str, enricher: RecordEnricher = PLAIN
) -> dict[str, t.Any]:
    """A RECORD from one connection of a page; MalformedPage if it cannot be one.

    ``enricher`` adds the account's export fields, OutX's date and its unknown keys.
    """
    where = f"connection #{index + 1} of the page at offset {page.offset} (task {page.task_id})"
    if not isinstance(connection, dict):
        msg = f"{where} is a {type(connection).__name__}, not an object"
        raise MalformedPage(msg)
    record = {field: connection.get(field) for field in CONNECTION_FIELDS}
    urn = record["entity_urn"]
    if not isinstance(urn, str) or not urn.strip():
        msg = f"{where} has no 'entity_urn'"
        raise MalformedPage(msg)
    for field, value in record.items():
        if value is not None and not isinstance(value, str):
            msg = f"{where} has a {type(value).__name__} in '{field}', not text"
            raise MalformedPage(msg)
    slug = record["public_identifier"]
    record["profile_url"] = PROFILE_URL_PREFIX + quote(slug, safe="-_.~") if slug else None
    record["account"] = account
    record.update(enricher.fields(connection, urn))
    return record
