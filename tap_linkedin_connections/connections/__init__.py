"""The `connections` stream: offset pages of an account's list, its passes and records."""
