"""Several LinkedIn accounts in one run: who they are, their threads, their base stream."""
