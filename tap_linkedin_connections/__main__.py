"""Run the tap with ``python -m tap_linkedin_connections``."""

from tap_linkedin_connections.tap import main

main()
