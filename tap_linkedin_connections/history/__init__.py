"""The history of an account's network: connection dates, what OutX adds, and events.

- ``export.py``: the member's own LinkedIn export (``Connections.csv``), read and matched
  to connections by profile URL (connection dates, company, position; emails on request).
- ``drift.py``: connection keys OutX sends beyond the documented ones: a connection date
  passed through, anything else kept in ``extra`` and named once per run.
- ``enrich.py``: the record fields both give, and which source wins.
- ``events.py``: pure decisions of connection events (added, removed, reconnected,
  headline changed) from a remembered row and what a pass saw.
"""
