"""The task engine: one OutX task per page, created, polled and handed out in order."""
