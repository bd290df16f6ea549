"""The connections list, read page by page over the task engine (pager.py)."""
