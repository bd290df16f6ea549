"""fetch-profile results -> profiles records (profiles/records.py), by table, in process."""

from __future__ import annotations

import json
import typing as t

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tap_linkedin_connections.profiles.records import (
    FailureKind,
    ProfileProblem,
    ProfileShape,
    When,
    failure_kind,
    parse_count,
    parse_when,
    profile_record,
    split_range,
)
from tap_linkedin_connections.profiles.schema import PROFILES_SCHEMA

URN = "urn:li:fsd_profile:ACoAAB1"
FETCHED_AT = 1_767_225_600.0  # 2026-01-01T00:00:00Z
# Built once: jsonschema.validate checks the schema itself on every call.
VALIDATOR = jsonschema.Draft202012Validator(PROFILES_SCHEMA)

# The same person in the provider docs' flat shape and the wild client's nested one.
FLAT = {
    "name": "Zoë Núñez",
    "headline": "Head of Sales at Globex",
    "location": "Paris, Île-de-France, France",
    "profile_url": "https://www.linkedin.com/in/zoe-nunez-1a2b",
    "connections": "500+",
    "followers": 1234,
    "about": "Sales, people, coffee.",
    "experience": [
        {"title": "Analyst", "company": "Initech", "start_date": "2015", "end_date": "Mar 2018"},
        {
            "title": "Head of Sales",
            "company": "Globex",
            "location": "Paris",
            "start_date": "Jan 2021",
            "end_date": "Present",
        },
        {
            "title": "Account Executive",
            "company": "Hooli",
            "start_date": "Apr 2018",
            "end_date": "Dec 2020",
        },
    ],
    "education": [
        {"school": "MIT", "degree": "MBA", "field_of_study": "Economics", "dates": "2012 - 2014"}
    ],
    "skills": ["Négociation", "SQL"],
}
NESTED = {
    "profile": {
        "full_name": "Zoë Núñez",
        "headline": "Head of Sales at Globex",
        "location": "Paris, Île-de-France, France",
        "profile_slug": "zoe-nunez-1a2b",
        "profile_urn": URN,
        "summary": "Sales, people, coffee.",
        "connections_count": 500,
        "followers_count": "1,234",
        "positions": [
            {
                "title": "Head of Sales",
                "company_name": "Globex",
                "location": "Paris",
                "start_year": 2021,
                "start_month": 1,
                "end_year": None,
                "end_month": None,
                "is_current": True,
            },
            {
                "title": "Account Executive",
                "company_name": "Hooli",
                "start_year": 2018,
                "start_month": 4,
                "end_year": 2020,
                "end_month": 12,
                "is_current": False,
            },
            {
                "title": "Analyst",
                "company_name": "Initech",
                "start_year": 2015,
                "end_year": 2018,
                "end_month": 3,
                "is_current": False,
            },
        ],
        "education": [
            {
                "school_name": "MIT",
                "degree_name": "MBA",
                "field_of_study": "Economics",
                "start_year": 2012,
                "end_year": 2014,
            }
        ],
        "skills": [{"name": "Négociation"}, {"name": "SQL"}],
    }
}
EXPECTED = {
    "account": "default",
    "entity_urn": URN,
    "public_identifier": "zoe-nunez-1a2b",
    "name": "Zoë Núñez",
    "headline": "Head of Sales at Globex",
    "location": "Paris, Île-de-France, France",
    "about": "Sales, people, coffee.",
    "connections_count": 500,
    "followers_count": 1234,
    "current_title": "Head of Sales",
    "current_company": "Globex",
    "positions": [
        {
            "title": "Head of Sales",
            "company": "Globex",
            "location": "Paris",
            "start_year": 2021,
            "start_month": 1,
            "end_year": None,
            "end_month": None,
            "is_current": True,
        },
        {
            "title": "Account Executive",
            "company": "Hooli",
            "location": None,
            "start_year": 2018,
            "start_month": 4,
            "end_year": 2020,
            "end_month": 12,
            "is_current": False,
        },
        {
            "title": "Analyst",
            "company": "Initech",
            "location": None,
            "start_year": 2015,
            "start_month": None,
            "end_year": 2018,
            "end_month": 3,
            "is_current": False,
        },
    ],
    "education": [
        {
            "school": "MIT",
            "degree": "MBA",
            "field_of_study": "Economics",
            "start_year": 2012,
            "end_year": 2014,
        }
    ],
    "skills": ["Négociation", "SQL"],
    "fetched_at": "2026-01-01T00:00:00Z",
}


def read(output: t.Any, slug: str | None = "asked-slug") -> t.Any:
    return profile_record(
        output, account="default", entity_urn=URN, public_identifier=slug, fetched_at=FETCHED_AT
    )


@pytest.mark.parametrize(
    ("output", "shape"),
    [
        (FLAT, ProfileShape.FLAT),
        (NESTED, ProfileShape.NESTED),
        (json.dumps(FLAT), ProfileShape.FLAT),
    ],
    ids=["flat", "nested", "flat-as-json-text"],
)
def test_both_shapes_give_the_same_record(output: t.Any, shape: ProfileShape) -> None:
    result = read(output)
    assert result.shape is shape
    assert result.problems == ()
    assert result.record["raw"] == output  # as OutX gave it, untouched
    assert {k: v for k, v in result.record.items() if k != "raw"} == EXPECTED
    VALIDATOR.validate(result.record)


@pytest.mark.parametrize(
    "output",
    [None, [], [FLAT], "not json", 42, {}, {"foo": 1}, {"profile": "x"}, {"data": {"n": 1}}],
)
def test_an_unknown_shape_keeps_raw_and_names_the_problem(output: t.Any) -> None:
    result = read(output)
    assert result.shape is ProfileShape.UNKNOWN
    assert result.problems == (ProfileProblem.UNKNOWN_SHAPE,)
    record = result.record
    assert record["raw"] == output
    kept = {"account", "entity_urn", "public_identifier", "fetched_at", "raw"}
    assert {k for k, v in record.items() if v is not None} <= kept
    assert record["public_identifier"] == "asked-slug"  # the connection's, as asked
    assert set(record) == set(PROFILES_SCHEMA["properties"])
    VALIDATOR.validate(record)


@pytest.mark.parametrize(
    ("profile", "slug"),
    [
        ({"name": "A", "profile_url": "https://www.linkedin.com/in/new-slug/"}, "new-slug"),
        ({"name": "A", "profile_url": "https://linkedin.com/in/x-1?trk=abc"}, "x-1"),
        ({"full_name": "A", "profile_slug": "from-slug", "profile_url": "u"}, "from-slug"),
        ({"name": "A", "public_identifier": "pi"}, "pi"),
        ({"name": "A"}, "asked-slug"),
        ({"name": "A", "profile_url": "https://example.com/me"}, "asked-slug"),
    ],
)
def test_the_profiles_own_slug_wins_over_the_one_asked(profile: t.Any, slug: str) -> None:
    assert read(profile).record["public_identifier"] == slug


@pytest.mark.parametrize(
    ("profile", "name"),
    [
        ({"name": "Ana María", "full_name": "other"}, "Ana María"),
        ({"name": "", "full_name": "王 小明"}, "王 小明"),
        ({"first_name": "Jürgen", "last_name": "Müller"}, "Jürgen Müller"),
        ({"firstName": "Søren", "headline": "x"}, "Søren"),
        ({"headline": "x"}, None),
    ],
)
def test_name_from_any_field_that_carries_it(profile: t.Any, name: str | None) -> None:
    assert read(profile).record["name"] == name


@pytest.mark.parametrize(
    ("value", "count"),
    [
        (500, 500),
        ("500+", 500),
        ("500+ connections", 500),
        ("1,234", 1234),
        ("1.234", 1234),
        ("1 234", 1234),
        ("12K", 12_000),
        ("3.5M followers", 3_500_000),
        ("500 members", 500),
        ("2 mutual", 2),
        ("1,5k", 1500),
        (12.0, 12),
        (0, 0),
        (-1, None),
        (1.5, None),
        ("1.5", None),
        ("12,34", None),
        ("many", None),
        ("", None),
        (True, None),
        (None, None),
        ([500], None),
    ],
)
def test_counts_as_linkedin_shows_them(value: t.Any, count: int | None) -> None:
    assert parse_count(value) == count


@pytest.mark.parametrize(
    ("value", "when"),
    [
        ("Jan 2020", When(2020, 1)),
        ("January 2020", When(2020, 1)),
        ("Sept. 2019", When(2019, 9)),
        ("2020-01", When(2020, 1)),
        ("2020-01-15", When(2020, 1)),
        ("2020-01-15T00:00:00Z", When(2020, 1)),
        ("01/2020", When(2020, 1)),
        ("2020", When(2020)),
        (2020, When(2020)),
        (2020.0, When(2020)),
        ({"year": 2020, "month": 3}, When(2020, 3)),
        ({"year": "2020"}, When(2020)),
        ("Present", When(present=True)),
        (" present ", When(present=True)),
        ("Current", When(present=True)),
        ("2020-13", When(2020)),  # no month 13
        ("Smarch 2020", When()),
        ("1066", When()),  # not a career's year
        ({"month": 3}, When()),  # a month without a year
        ("", When()),
        (None, When()),
        (True, When()),
    ],
)
def test_dates_in_every_form_seen(value: t.Any, when: When) -> None:
    assert parse_when(value) == when


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("Jan 2020 - Present · 5 yrs 2 mos", ("Jan 2020", "Present")),
        ("Jan 2020 – Mar 2022", ("Jan 2020", "Mar 2022")),  # noqa: RUF001
        ("2012–2014", ("2012", "2014")),  # noqa: RUF001
        ("2012 to 2014", ("2012", "2014")),
        ("2020-01", ("2020-01", None)),  # an ISO date is not a range
        ("Jan 2020", ("Jan 2020", None)),
    ],
)
def test_date_ranges(text: str, parts: tuple[str, str | None]) -> None:
    assert split_range(text) == parts


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        # (start_year, start_month, end_year, end_month, is_current)
        ({"start": "2019-05", "end": "Present"}, (2019, 5, None, None, True)),
        ({"start_date": "2019"}, (2019, None, None, None, True)),  # no end: ongoing
        ({"start_date": "2019", "end_date": "2020"}, (2019, None, 2020, None, False)),
        ({"date_range": "Mar 2019 - Feb 2020"}, (2019, 3, 2020, 2, False)),
        (
            {"timePeriod": {"startDate": {"year": 2019, "month": 3}}},
            (2019, 3, None, None, True),
        ),
        ({"start_year": 2019, "is_current": False}, (2019, None, None, None, False)),
        ({"start_year": "2019", "start_month": "7"}, (2019, 7, None, None, True)),
        ({"current": True}, (None, None, None, None, True)),
        ({}, (None, None, None, None, None)),
        ({"duration": "3 yrs"}, (None, None, None, None, None)),
    ],
)
def test_position_dates_and_whether_current(
    entry: dict[str, t.Any], expected: tuple[t.Any, ...]
) -> None:
    [position] = read({"name": "A", "experience": [{"title": "T", **entry}]}).record["positions"]
    fields = ("start_year", "start_month", "end_year", "end_month", "is_current")
    assert tuple(position[f] for f in fields) == expected


def test_positions_newest_first_whatever_order_they_come_in() -> None:
    experience = [
        {"title": "undated"},
        {"title": "ended 2019", "start": "2015", "end": "Jun 2019"},
        {"title": "current since 2018", "start": "2018-02"},
        {"title": "ended 2021", "start": "2019", "end": "2021-03"},
        {"title": "current since 2022", "start": "2022-09", "end": "Present"},
        {"title": "ended 2021 later", "start": "2020", "end": "2021-11"},
    ]
    titles = [p["title"] for p in read({"name": "A", "experience": experience}).record["positions"]]
    assert titles == [
        "current since 2022",
        "current since 2018",
        "ended 2021 later",
        "ended 2021",
        "ended 2019",
        "undated",
    ]


@pytest.mark.parametrize(
    ("profile", "job"),
    [
        ({"experience": [{"title": "T", "company": "C", "start": "2020"}]}, ("T", "C")),
        (
            {"experience": [{"title": "Old", "company": "C", "start": "2019", "end": "2020"}]},
            (None, None),  # between jobs
        ),
        ({"experience": [{"title": "T", "company": {"name": "C"}}]}, ("T", "C")),  # undated
        ({"current_company": {"name": "C"}, "job_title": "T"}, ("T", "C")),
        ({"experience": [], "current_company": "C"}, (None, "C")),
        ({"positions": [{"title": "T", "companyName": "C", "isCurrent": True}]}, ("T", "C")),
        ({}, (None, None)),
    ],
)
def test_current_title_and_company(
    profile: dict[str, t.Any], job: tuple[str | None, str | None]
) -> None:
    record = read({"name": "A", **profile}).record
    assert (record["current_title"], record["current_company"]) == job


def test_roles_grouped_under_a_company_are_flattened() -> None:
    experience = [
        {
            "company": "Globex",
            "positions": [
                {"title": "Director", "start": "2022-01"},
                {"title": "Manager", "start": "2019-01", "end": "2021-12"},
            ],
        },
        {"title": "Intern", "company": "Initech", "start": "2018", "end": "2018"},
    ]
    record = read({"name": "A", "experience": experience}).record
    assert [(p["title"], p["company"]) for p in record["positions"]] == [
        ("Director", "Globex"),
        ("Manager", "Globex"),
        ("Intern", "Initech"),
    ]
    assert (record["current_title"], record["current_company"]) == ("Director", "Globex")


@pytest.mark.parametrize(
    ("profile", "problems", "nulls"),
    [
        ({"experience": "CEO"}, [ProfileProblem.POSITIONS_UNREADABLE], ["positions"]),
        ({"education": {"school": "MIT"}}, [ProfileProblem.EDUCATION_UNREADABLE], ["education"]),
        ({"skills": "SQL, Go"}, [ProfileProblem.SKILLS_UNREADABLE], ["skills"]),
        ({"experience": ["CEO", {"title": "T"}]}, [ProfileProblem.ENTRY_UNREADABLE], []),
        ({"skills": ["SQL", 5, {"name": "Go"}, ""]}, [ProfileProblem.ENTRY_UNREADABLE], []),
        ({"experience": [], "skills": []}, [], []),
    ],
)
def test_a_part_of_the_wrong_kind_is_named_and_the_rest_kept(
    profile: dict[str, t.Any], problems: list[ProfileProblem], nulls: list[str]
) -> None:
    result = read({"name": "Kept", **profile})
    assert list(result.problems) == problems
    assert result.record["name"] == "Kept"
    for key in nulls:
        assert result.record[key] is None
    VALIDATOR.validate(result.record)


def test_a_readable_part_with_bad_entries_keeps_the_good_ones() -> None:
    record = read({"name": "A", "skills": ["SQL", 5, {"name": "Go"}, ""]}).record
    assert record["skills"] == ["SQL", "Go"]
    record = read({"name": "A", "experience": ["CEO", {"title": "T"}]}).record
    assert [p["title"] for p in record["positions"]] == ["T"]


def test_an_absent_part_is_null_and_an_empty_one_empty() -> None:
    record = read({"name": "A"}).record
    assert (record["positions"], record["education"], record["skills"]) == (None, None, None)
    record = read({"name": "A", "experience": [], "education": [], "skills": []}).record
    assert (record["positions"], record["education"], record["skills"]) == ([], [], [])


@pytest.mark.parametrize(
    ("location", "text"),
    [
        ("Berlin", "Berlin"),
        ({"name": "Berlin, Germany"}, "Berlin, Germany"),
        ({"city": "Berlin", "country": "Germany"}, "Berlin, Germany"),
        ({"city": ""}, None),
        ("   ", None),
        (7, None),
    ],
)
def test_location_as_text_or_object(location: t.Any, text: str | None) -> None:
    assert read({"name": "A", "location": location}).record["location"] == text


@pytest.mark.parametrize(
    ("output", "kind"),
    [
        ({"error": "Profile not found"}, FailureKind.NOT_FOUND),
        ({"message": "This profile does not exist"}, FailureKind.NOT_FOUND),
        ("Member unavailable", FailureKind.NOT_FOUND),
        ({"error": "Profile not visible to this LinkedIn account"}, FailureKind.NOT_VISIBLE),
        ({"reason": "PRIVATE profile"}, FailureKind.NOT_VISIBLE),
        ({"error": "Out of network"}, FailureKind.NOT_VISIBLE),
        (None, FailureKind.UNEXPLAINED),
        ({"error": "Timeout"}, FailureKind.UNEXPLAINED),
        ({"error": 404}, FailureKind.UNEXPLAINED),
        ([], FailureKind.UNEXPLAINED),
    ],
)
def test_why_a_fetch_failed(output: t.Any, kind: FailureKind) -> None:
    assert failure_kind(output) is kind


def test_the_schema_describes_every_field() -> None:
    properties = PROFILES_SCHEMA["properties"]
    assert set(properties) == set(EXPECTED) | {"raw"}
    assert all(p.get("description") for p in properties.values())
    assert set(PROFILES_SCHEMA["required"]) == {"account", "entity_urn", "fetched_at"}
    for part in ("positions", "education"):
        assert set(properties[part]["items"]["properties"]) == set(EXPECTED[part][0])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
KNOWN_KEYS = (
    "name",
    "full_name",
    "headline",
    "profile_url",
    "connections",
    "followers",
    "experience",
    "positions",
    "education",
    "skills",
    "location",
    "title",
    "company",
    "start",
    "end",
    "start_year",
    "end_month",
    "is_current",
    "date_range",
    "timePeriod",
)
near_profiles = st.recursive(
    st.dictionaries(st.sampled_from(KNOWN_KEYS), json_values, max_size=6),
    lambda children: st.dictionaries(
        st.sampled_from(KNOWN_KEYS), children | st.lists(children, max_size=3), max_size=5
    ),
    max_leaves=12,
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(json_values | near_profiles | near_profiles.map(lambda p: {"profile": p}))
def test_any_output_gives_a_valid_record_and_never_raises(output: t.Any) -> None:
    result = read(output)
    VALIDATOR.validate(result.record)
    assert result.record["raw"] == output
    assert (result.shape is ProfileShape.UNKNOWN) == (
        ProfileProblem.UNKNOWN_SHAPE in result.problems
    )
