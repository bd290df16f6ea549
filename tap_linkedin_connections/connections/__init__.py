"""The `connections` stream (stream.py): an account's list read in offset pages over the
task engine (pager.py), its passes and records."""
