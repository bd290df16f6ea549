"""The fields a connection's record gains beyond OutX's documented ones, and their sources.

``connected_on``, ``company``, ``position``, ``email_address`` come from the member's
LinkedIn export (export.py); ``connected_on`` also from a date OutX passes through, and
``extra`` from the keys OutX sends that the tap does not know (drift.py).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from tap_linkedin_connections.history.drift import UnknownKeys, passthrough
from tap_linkedin_connections.history.export import ExportError, ExportMatcher, read_export
from tap_linkedin_connections.outx.kinds import CONNECTION_FIELDS

DOCUMENTED = frozenset(CONNECTION_FIELDS)

#: The record fields this module fills, in the schema's order.
ENRICHED_FIELDS = ("connected_on", "company", "position", "email_address", "extra")


def choose_connected_on(from_export: str | None, from_outx: str | None) -> str | None:
    """The connection date a record carries: the export's when it has one, else OutX's.

    The export wins because it is LinkedIn's own, documented record, dated in the
    member's calendar, and the member chose to give it; OutX documents no date, so a
    ``createdAt`` there is a guess at a name (it could one day mean when OutX stored the
    row) and an epoch dated in UTC. OutX's fills the connections the export lacks: those
    made after it was downloaded.
    """
    return from_export if from_export is not None else from_outx


@dataclass
class RecordEnricher:
    """What one account's records gain: its export's lines and OutX's extra keys.

    ``export``: the account's export, if one is set; ``emails``: whether its email
    addresses go into records (the ``linkedin_export_emails`` setting); ``unknown``: the
    run's unknown keys, named once per run (None: not named, still kept in ``extra``).
    """

    export: ExportMatcher | None = None
    emails: bool = False
    unknown: UnknownKeys | None = None

    def fields(self, connection: t.Mapping[str, t.Any], entity_urn: str) -> dict[str, t.Any]:
        """The enriched fields of one connection (every one present, None when unknown)."""
        passed = passthrough(connection, DOCUMENTED)
        if passed.extra and self.unknown is not None:
            self.unknown.note(passed.extra)
        slug = connection.get("public_identifier")
        row = self.export.find(slug, entity_urn) if self.export is not None else None
        from_export = row.connected_on if row is not None else None
        if (
            self.export is not None
            and from_export
            and passed.connected_on
            not in (
                None,
                from_export,
            )
        ):
            self.export.other_dates.add(entity_urn)
        return {
            "connected_on": choose_connected_on(from_export, passed.connected_on),
            "company": row.company if row is not None else None,
            "position": row.position if row is not None else None,
            "email_address": row.email_address if row is not None and self.emails else None,
            "extra": passed.extra,
        }


def enricher_for(config: t.Mapping[str, t.Any], unknown: UnknownKeys) -> RecordEnricher:
    """An account's enricher, its export read (ExportError if it cannot be).

    ``config``: the account's settings (accounts.py gives each its own linkedin_export).
    """
    path = config.get("linkedin_export")
    emails = bool(config.get("linkedin_export_emails"))
    if not isinstance(path, str) or not path.strip():
        return RecordEnricher(emails=emails, unknown=unknown)
    try:
        export = read_export(path.strip(), keep_emails=emails)
    except ExportError as exc:  # changed since the config was validated
        msg = f"'linkedin_export': {path.strip()} {exc}"
        raise ExportError(msg) from None
    return RecordEnricher(ExportMatcher(export), emails=emails, unknown=unknown)
