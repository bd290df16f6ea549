"""The history of an account's network: connection dates, what OutX adds, and events.

- ``export.py``: the member's own LinkedIn export (``Connections.csv``), read and matched
  to connections by profile URL (connection dates, company, position; emails on request).
- ``drift.py``: connection keys OutX sends beyond the documented ones: a connection date
  passed through, anything else kept in ``extra`` and named once per run.
- ``enrich.py``: the record fields both give, and which source wins.
- ``events.py``: pure decisions of connection events (added, removed, reconnected,
  headline changed) from a remembered row and what a pass saw.
- ``observe.py``: pure decisions of where a pass's connections stand (ranks, rises),
  which connections a proven pass found gone, and a row's first-seen date.
- ``store.py``: the memory's tables, in the task ledger's database; ``rows.py``: one
  list's rows in a transaction; ``memory.py``: one list's memory, a transaction per
  page and per pass's end; ``columns.py``: a row's history columns.
- ``recorder.py``: the connections stream's history during a run (rows gain their
  history; removed connections' rows with ``removed_connections: mark``).
- ``stream.py``: the ``connection_events`` stream.
"""
