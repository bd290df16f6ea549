"""OutX's LinkedIn Data API: the task kinds it offers (kinds.py) and the HTTP client (client.py)."""
