"""A local stand-in for OutX's LinkedIn Data API, for tests, benchmarks and demos.

    with Sandbox(connections=1234, seed=7) as sandbox:
        ...  # point the tap at sandbox.url with api_key "sandbox-api-key"

Standard library only. See `server.Sandbox` for the Python control API; the same controls
are served over HTTP under /_sandbox/.
"""

from tap_linkedin_connections.sandbox.data import DOCUMENTED_FIELDS, EXTRA_FIELD
from tap_linkedin_connections.sandbox.server import DEFAULT_API_KEY, FAULT_KINDS, Sandbox

__all__ = ["DEFAULT_API_KEY", "DOCUMENTED_FIELDS", "EXTRA_FIELD", "FAULT_KINDS", "Sandbox"]
