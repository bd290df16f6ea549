"""Profiles: what each connection's LinkedIn profile shows, read through OutX fetch-profile.

The decisions, pure: ``records.py`` (a result, in either shape OutX gives, as a record),
``choose.py`` (which profiles today, in what order; when a re-fetch is a job change),
``today.py`` (the day's budget). What is kept: ``listing.py`` (the connection list as the
profiles see it), ``memory.py`` (each connection's last fetch and the job changes). The
work: ``fetcher.py`` (one task at a time through the engine: every fetch is a profile
view) and ``reader.py`` (one account's run); ``stream.py`` declares the two streams.
"""
