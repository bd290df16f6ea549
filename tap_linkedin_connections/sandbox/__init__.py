"""A local stand-in for OutX's LinkedIn Data API, for tests, benchmarks and demos.

    with Sandbox(connections=1234, seed=7) as sandbox:
        ...  # point the tap at sandbox.url with api_key "sandbox-api-key"

Standard library only. See `server.Sandbox` for the Python control API; the same controls
are served over HTTP under /_sandbox/. Every endpoint needs the `x-api-key` header.

OutX's API (each create is one task, run by the simulated extension one at a time):

- `POST /linkedin-agent/fetch-connections` (keyword, sort_type, start, count): a page of
  the connection list (`result_shape`: `object` or `list`).
- `POST /linkedin-agent/fetch-profile` (`profile_slug`): a task of type
  `agent_profile_fetch`, its result a profile consistent with the list, in the shape of
  `profile_shape` (`flat` or `nested`); a failed task for a slug not in the list or
  hidden (see profiles.py).
- `GET /linkedin-agent/get-task-status?api_agent_task_id=...`: any task's status.

Controls:

- `GET /_sandbox/stats`, `POST /_sandbox/reset-stats`: tasks created (every kind), polls,
  faults, requests, timings.
- `GET /_sandbox/connections` (sort_type, keyword), `POST /_sandbox/connections/add`
  (count), `POST /_sandbox/connections/remove` (entity_urns, positions),
  `POST /_sandbox/connections/reconnect` (entity_urns or newest-first positions): people
  removed earlier (or still connected) connect again, as themselves, at the top of the
  newest-first list; `POST /_sandbox/spoil-page` (start, kind, times): a page answered
  one row short or with one connection twice.
- `POST /_sandbox/connections/change-job` (entity_urn or slug, title, company): the
  person's profile gains the position and the list's headline becomes "title at company".
- `GET /_sandbox/profiles?slug=...`: the profile as a fetch would read it now;
  `POST /_sandbox/profiles/hide` (entity_urns, slugs, hidden): fetches fail as not visible.
- `POST /_sandbox/configure`: any setting (see `server.Settings`), `seed`, `faults`.
- `POST /_sandbox/forget` (task_ids): those tasks answer 404 from now on.
"""

from tap_linkedin_connections.sandbox.data import DOCUMENTED_FIELDS, EXTRA_FIELD
from tap_linkedin_connections.sandbox.server import DEFAULT_API_KEY, FAULT_KINDS, Sandbox

__all__ = ["DEFAULT_API_KEY", "DOCUMENTED_FIELDS", "EXTRA_FIELD", "FAULT_KINDS", "Sandbox"]
