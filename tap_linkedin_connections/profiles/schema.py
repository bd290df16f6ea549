"""The ``profiles`` stream's JSON schema: one row per account and connection, the latest
fetch of the connection's profile (records.py builds the rows)."""

from __future__ import annotations

from singer_sdk import typing as th

from tap_linkedin_connections.accounts.stream import ACCOUNT

# Any JSON value: the result as OutX gave it, whatever its shape (a JSON column in SQL
# loaders: target-postgres picks jsonb for a type list that holds "object").
ANY_JSON = th.CustomType({"type": ["object", "array", "string", "number", "boolean", "null"]})


def _year(what: str) -> th.Property[int]:
    return th.Property(what, th.IntegerType(nullable=True), description=f"{_words(what)}.")


def _words(name: str) -> str:
    return name.replace("_", " ").capitalize()


POSITION = th.ObjectType(
    th.Property("title", th.StringType(nullable=True), description="Job title."),
    th.Property("company", th.StringType(nullable=True), description="Company name."),
    th.Property("location", th.StringType(nullable=True), description="Where the job is."),
    _year("start_year"),
    th.Property(
        "start_month", th.IntegerType(nullable=True), description="Start month, 1-12, if shown."
    ),
    th.Property(
        "end_year",
        th.IntegerType(nullable=True),
        description="End year; null for a current position or when not shown.",
    ),
    th.Property(
        "end_month", th.IntegerType(nullable=True), description="End month, 1-12, if shown."
    ),
    th.Property(
        "is_current",
        th.BooleanType(nullable=True),
        description=(
            "Whether the person holds the position now: as OutX says, else true for an end"
            " of 'Present' or a start without an end; null when nothing tells."
        ),
    ),
)

SCHOOL = th.ObjectType(
    th.Property("school", th.StringType(nullable=True), description="School name."),
    th.Property("degree", th.StringType(nullable=True), description="Degree."),
    th.Property("field_of_study", th.StringType(nullable=True), description="Field of study."),
    _year("start_year"),
    _year("end_year"),
)

PROFILES_SCHEMA = th.PropertiesList(
    ACCOUNT,
    th.Property(
        "entity_urn",
        th.StringType,
        required=True,
        description="The person's LinkedIn URN, as the connection list gives it (the key).",
    ),
    th.Property(
        "public_identifier",
        th.StringType(nullable=True),
        description="Profile slug: the profile's own if it names one, else the list's.",
    ),
    th.Property("name", th.StringType(nullable=True), description="Full name."),
    th.Property("headline", th.StringType(nullable=True), description="Headline."),
    th.Property("location", th.StringType(nullable=True), description="Location, as shown."),
    th.Property("about", th.StringType(nullable=True), description="The About section."),
    th.Property(
        "connections_count",
        th.IntegerType(nullable=True),
        description="Connections as shown: '500+' gives 500 (LinkedIn shows no more).",
    ),
    th.Property(
        "followers_count",
        th.IntegerType(nullable=True),
        description="Followers as shown ('12K' gives 12000).",
    ),
    th.Property(
        "current_title",
        th.StringType(nullable=True),
        description="Title of the newest current position (job changes compare it).",
    ),
    th.Property(
        "current_company",
        th.StringType(nullable=True),
        description="Company of the newest current position (job changes compare it).",
    ),
    th.Property(
        "positions",
        th.ArrayType(POSITION),
        description="Work experience, newest first: current positions, then by end date.",
    ),
    th.Property("education", th.ArrayType(SCHOOL), description="Education, as listed."),
    th.Property("skills", th.ArrayType(th.StringType), description="Skills, as listed."),
    th.Property(
        "fetched_at",
        th.DateTimeType,
        required=True,
        description="When the profile was read (the fetch-profile task completed), UTC.",
    ),
    th.Property(
        "raw",
        ANY_JSON,
        description=(
            "The fetch-profile result as OutX gave it, so that nothing the tap does not map"
            " is lost; the only filled field besides the key when its shape is unknown."
        ),
    ),
).to_dict()
