"""Singer tap for LinkedIn connections, read through the OutX LinkedIn Data API."""
