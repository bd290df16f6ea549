"""Profiles: what each connection's LinkedIn profile shows, read through OutX fetch-profile.

``records.py`` turns a fetch-profile result (either shape OutX has been seen to give) into
a ``profiles`` record; ``schema.py`` declares that record; ``choose.py`` decides, without
I/O, which profiles a run fetches and in what order, and when a re-fetch is a job change.
Every profile fetch is a LinkedIn profile view: nothing here creates a task.
"""
