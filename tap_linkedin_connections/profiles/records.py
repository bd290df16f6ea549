"""A fetch-profile result -> a ``profiles`` record, whichever shape OutX gives it in.

OutX has not settled the result's shape. Its docs show a flat object (``name``,
``headline``, ``profile_url``, ``connections``, ``followers``, ``about``, an ``experience``
list); a client in the wild reads ``task_output.profile`` (``full_name``, ``profile_slug``,
``profile_urn``, ``positions[]`` with year and month fields). One mapping reads both: it
knows the names each uses, and dates given as "Jan 2020", "2020-01", year and month
fields, or "Present". A third shape is kept whole in ``raw`` with the other fields null
and named as a problem, for one warning per run: it never stops a run, because the
profile view it cost is already spent.

A failed fetch-profile task is read here too (``failure_kind``): OutX documents no
message for it, so the kind is guessed from whatever text the task carries.
"""

from __future__ import annotations

import enum
import json
import re
import typing as t
from dataclasses import dataclass
from datetime import datetime, timezone

Record = dict[str, t.Any]
Position = dict[str, t.Any]


class ProfileShape(enum.Enum):
    """Which shape a fetch-profile result came in."""

    FLAT = "flat"  # the provider's docs: task_output is the profile
    NESTED = "nested"  # the client in the wild: task_output.profile
    UNKNOWN = "unknown"


class ProfileProblem(enum.Enum):
    """Something a result lacked or held wrongly; the value is the warning's text."""

    UNKNOWN_SHAPE = (
        "a fetch-profile result is neither a profile object nor an object holding `profile`:"
        " it is kept in `raw`, its other fields are null"
    )
    POSITIONS_UNREADABLE = "a fetch-profile result's experience is not a list: positions null"
    EDUCATION_UNREADABLE = "a fetch-profile result's education is not a list: education null"
    SKILLS_UNREADABLE = "a fetch-profile result's skills are not a list: skills null"
    ENTRY_UNREADABLE = (
        "an entry of a fetch-profile result's experience, education or skills is neither an"
        " object nor text: skipped"
    )


class FailureKind(enum.Enum):
    """Why a fetch-profile task failed, as far as its answer tells."""

    NOT_FOUND = "not_found"
    NOT_VISIBLE = "not_visible"
    UNEXPLAINED = "unexplained"  # OutX documents no failure message: the usual case


@dataclass(frozen=True)
class ProfileRead:
    """The record made of one result, the shape it came in, and what was wrong with it."""

    record: Record
    shape: ProfileShape
    problems: tuple[ProfileProblem, ...] = ()


# The names each shape (and likely variants) uses for a field, tried in this order.
NAME_KEYS = ("name", "full_name", "fullName")
FIRST_NAME_KEYS = ("first_name", "firstName")
LAST_NAME_KEYS = ("last_name", "lastName")
LOCATION_KEYS = ("location", "location_name", "locationName", "geo_location")
ABOUT_KEYS = ("about", "summary")
CONNECTIONS_KEYS = ("connections", "connections_count", "connection_count", "connectionsCount")
FOLLOWERS_KEYS = ("followers", "followers_count", "follower_count", "followersCount")
SLUG_KEYS = ("public_identifier", "profile_slug", "publicIdentifier", "slug")
URL_KEYS = ("profile_url", "url", "linkedin_url")
POSITION_LIST_KEYS = ("positions", "experience", "experiences", "work_experience")
EDUCATION_LIST_KEYS = ("education", "educations")
SKILL_LIST_KEYS = ("skills",)
# A profile object has at least one of these; anything else is an unknown shape.
PROFILE_MARKERS = (*NAME_KEYS, *FIRST_NAME_KEYS, "headline", *SLUG_KEYS, *URL_KEYS)

TITLE_KEYS = ("title", "position", "role", "job_title", "jobTitle")
COMPANY_KEYS = ("company_name", "company", "companyName", "organization", "employer")
CURRENT_TITLE_KEYS = ("current_title", "current_position", "job_title")
CURRENT_COMPANY_KEYS = ("current_company", "current_company_name", "company_name", "company")
IS_CURRENT_KEYS = ("is_current", "current", "isCurrent")
# One date, as text ("Jan 2020", "2020-01"), a year, or an object {year, month}.
START_KEYS = ("start", "start_date", "startDate", "starts_at", "from")
END_KEYS = ("end", "end_date", "endDate", "ends_at", "to", "until")
# Both dates in one text ("Jan 2020 - Present · 3 yrs") or one object (LinkedIn's own).
RANGE_KEYS = ("date_range", "dates", "duration", "period", "time_period", "timePeriod")
# A company with several roles, as LinkedIn groups them.
GROUPED_ROLE_KEYS = ("positions", "roles")
SCHOOL_KEYS = ("school", "school_name", "schoolName", "institution", "name")
DEGREE_KEYS = ("degree", "degree_name", "degreeName")
FIELD_KEYS = ("field_of_study", "fieldOfStudy", "field")
SKILL_NAME_KEYS = ("name", "skill", "title")
ERROR_TEXT_KEYS = ("error", "message", "reason", "detail", "status_message")

PRESENT_WORDS = frozenset({"present", "current", "now", "today", "ongoing"})
MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
# Years outside this are typing errors or placeholders, not dates of a career.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2100

PROFILE_URL_SLUG = re.compile(r"linkedin\.com/in/([^/?#\s]+)", re.IGNORECASE)
RANGE_SEPARATOR = re.compile(r"\s+(?:-|–|—|to)\s+|\s*[–—]\s*", re.IGNORECASE)  # noqa: RUF001
ISO_YEAR_MONTH = re.compile(r"(\d{4})[-/.](\d{1,2})(?:[-/.]\d{1,2})?(?:[T ].*)?")
MONTH_SLASH_YEAR = re.compile(r"(\d{1,2})[-/.](\d{4})")
MONTH_NAME_YEAR = re.compile(r"([^\W\d_]+)\.?,?\s+(\d{4})")
# A K or M only as a unit of its own: "500 members" is 500, not 500 million.
COUNT_TEXT = re.compile(r"(\d[\d,.\u00a0\u202f ]*)\s*(?:([kKmM])(?![^\W\d_]))?")
THOUSANDS = re.compile(r"\d{1,3}(?:[,.\u00a0\u202f ]\d{3})+")

NOT_VISIBLE_WORDS = ("not visible", "private", "restricted", "out of network", "not accessible")
NOT_FOUND_WORDS = ("not found", "does not exist", "doesn't exist", "no longer", "unavailable")


def profile_record(
    output: t.Any,
    *,
    account: str,
    entity_urn: str,
    public_identifier: str | None,
    fetched_at: float,
) -> ProfileRead:
    """The ``profiles`` record of one completed fetch-profile task.

    ``entity_urn`` and ``public_identifier`` are the connection's, as the list gave them:
    the record's key is the connection's URN whatever the profile calls itself; the slug
    read from the profile wins (a renamed profile answers under its new slug).
    ``fetched_at`` is when the task completed, in seconds since the epoch. Never raises.
    """
    profile, shape = profile_object(output)
    record = _empty_record(account, entity_urn, public_identifier, fetched_at)
    record["raw"] = output
    if profile is None:
        return ProfileRead(record, shape, (ProfileProblem.UNKNOWN_SHAPE,))
    problems: list[ProfileProblem] = []
    record.update(_identity(profile))
    record["public_identifier"] = _slug(profile) or public_identifier
    positions = _read_list(
        profile, POSITION_LIST_KEYS, _positions, ProfileProblem.POSITIONS_UNREADABLE, problems
    )
    education = _read_list(
        profile, EDUCATION_LIST_KEYS, _education, ProfileProblem.EDUCATION_UNREADABLE, problems
    )
    skills = _read_list(
        profile, SKILL_LIST_KEYS, _skills, ProfileProblem.SKILLS_UNREADABLE, problems
    )
    record["positions"] = positions
    record["education"] = education
    record["skills"] = skills
    record["current_title"], record["current_company"] = _current_job(profile, positions)
    return ProfileRead(record, shape, tuple(dict.fromkeys(problems)))


def profile_object(output: t.Any) -> tuple[dict[str, t.Any] | None, ProfileShape]:
    """The profile inside a result, and the shape it was found in (None if unknown)."""
    if isinstance(output, str):
        # A result stored as JSON text: read what it holds, once.
        try:
            output = json.loads(output)
        except ValueError:
            return None, ProfileShape.UNKNOWN
    if not isinstance(output, dict):
        return None, ProfileShape.UNKNOWN
    nested = output.get("profile")
    if isinstance(nested, dict) and _has_any(nested, PROFILE_MARKERS):
        return nested, ProfileShape.NESTED
    if _has_any(output, PROFILE_MARKERS):
        return output, ProfileShape.FLAT
    return None, ProfileShape.UNKNOWN


def failure_kind(output: t.Any) -> FailureKind:
    """Why a failed fetch-profile task failed, from whatever text it carries."""
    texts: list[str] = []
    if isinstance(output, str):
        texts.append(output)
    elif isinstance(output, dict):
        texts.extend(v for k in ERROR_TEXT_KEYS if isinstance(v := output.get(k), str))
    text = " ".join(texts).casefold()
    if any(word in text for word in NOT_VISIBLE_WORDS):
        return FailureKind.NOT_VISIBLE
    if any(word in text for word in NOT_FOUND_WORDS):
        return FailureKind.NOT_FOUND
    return FailureKind.UNEXPLAINED


def parse_count(value: t.Any) -> int | None:
    """A count as LinkedIn shows it: 500, "500+", "1,234", "12K", "3.5M followers"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return int(value) if value.is_integer() and value >= 0 else None
    if not isinstance(value, str):
        return None
    match = COUNT_TEXT.match(value.strip())
    if match is None:
        return None
    digits, suffix = match.group(1).strip(), match.group(2)
    if suffix:
        try:
            number = float(digits.replace(",", "."))
        except ValueError:
            return None
        return round(number * (1_000 if suffix in "kK" else 1_000_000))
    if digits.isdigit():
        return int(digits)
    if THOUSANDS.fullmatch(digits):
        return int(re.sub(r"\D", "", digits))
    return None


@dataclass(frozen=True)
class When:
    """A date as a career shows it: a year and maybe a month, or "present"."""

    year: int | None = None
    month: int | None = None
    present: bool = False


def parse_when(value: t.Any) -> When:
    """One date of a position: "Jan 2020", "2020-01", "01/2020", 2020, {year, month}, "Present"."""
    if isinstance(value, dict):
        return _checked(_as_int(value.get("year")), _as_int(value.get("month")))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _checked(_as_int(value), None)
    if not isinstance(value, str):
        return When()
    text = value.strip()
    if text.casefold() in PRESENT_WORDS:
        return When(present=True)
    if text.isdigit():
        return _checked(int(text), None)
    if match := ISO_YEAR_MONTH.fullmatch(text):
        return _checked(int(match.group(1)), int(match.group(2)))
    if match := MONTH_SLASH_YEAR.fullmatch(text):
        return _checked(int(match.group(2)), int(match.group(1)))
    if match := MONTH_NAME_YEAR.fullmatch(text):
        month = MONTHS.get(match.group(1).casefold())
        return _checked(int(match.group(2)), month) if month else When()
    return When()


def split_range(text: str) -> tuple[str, str | None]:
    """ "Jan 2020 - Present · 3 yrs" -> ("Jan 2020", "Present"); one date -> (it, None)."""
    dates = text.split("·")[0].strip()
    parts = RANGE_SEPARATOR.split(dates, maxsplit=1)
    if len(parts) == 2:
        return parts[0].strip(), parts[1].strip()
    return dates, None


# -- the parts of a record -------------------------------------------------------------


def _empty_record(
    account: str, entity_urn: str, public_identifier: str | None, fetched_at: float
) -> Record:
    return {
        "account": account,
        "entity_urn": entity_urn,
        "public_identifier": public_identifier,
        "name": None,
        "headline": None,
        "location": None,
        "about": None,
        "connections_count": None,
        "followers_count": None,
        "current_title": None,
        "current_company": None,
        "positions": None,
        "education": None,
        "skills": None,
        "fetched_at": datetime.fromtimestamp(fetched_at, tz=timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        ),
        "raw": None,
    }


def _identity(profile: dict[str, t.Any]) -> Record:
    name = _text_of(profile, NAME_KEYS)
    if name is None:
        parts = (_text_of(profile, FIRST_NAME_KEYS), _text_of(profile, LAST_NAME_KEYS))
        name = " ".join(p for p in parts if p) or None
    return {
        "name": name,
        "headline": _text_of(profile, ("headline",)),
        "location": _location(_first(profile, LOCATION_KEYS)),
        "about": _text_of(profile, ABOUT_KEYS),
        "connections_count": parse_count(_first(profile, CONNECTIONS_KEYS)),
        "followers_count": parse_count(_first(profile, FOLLOWERS_KEYS)),
    }


def _slug(profile: dict[str, t.Any]) -> str | None:
    slug = _text_of(profile, SLUG_KEYS)
    if slug is not None:
        return slug
    url = _text_of(profile, URL_KEYS)
    match = PROFILE_URL_SLUG.search(url or "")
    return match.group(1) if match else None


def _location(value: t.Any) -> str | None:
    if isinstance(value, dict):
        named = _text_of(value, ("name", "default", "full"))
        if named is not None:
            return named
        parts = [value.get(k) for k in ("city", "region", "state", "country")]
        return ", ".join(p for p in parts if isinstance(p, str) and p.strip()) or None
    return _text(value)


def _read_list(
    profile: dict[str, t.Any],
    keys: tuple[str, ...],
    read: t.Callable[[list[t.Any], list[ProfileProblem]], list[t.Any]],
    unreadable: ProfileProblem,
    problems: list[ProfileProblem],
) -> list[t.Any] | None:
    """The part under the first of ``keys`` present, read; None if absent or not a list."""
    value = _first(profile, keys)
    if value is None:
        return None
    if not isinstance(value, list):
        problems.append(unreadable)
        return None
    return read(value, problems)


def _positions(entries: list[t.Any], problems: list[ProfileProblem]) -> list[Position]:
    positions: list[Position] = []
    for entry in entries:
        if not isinstance(entry, dict):
            problems.append(ProfileProblem.ENTRY_UNREADABLE)
            continue
        roles = _first(entry, GROUPED_ROLE_KEYS)
        if isinstance(roles, list) and _first(entry, TITLE_KEYS) is None:
            company = _company(entry)
            for role in roles:
                if isinstance(role, dict):
                    positions.append(_position(role, company))
                else:
                    problems.append(ProfileProblem.ENTRY_UNREADABLE)
        else:
            positions.append(_position(entry, None))
    return _newest_first(positions)


def _position(entry: dict[str, t.Any], group_company: str | None) -> Position:
    start, end = _dates(entry)
    is_current = _first(entry, IS_CURRENT_KEYS)
    if not isinstance(is_current, bool):
        is_current = _derive_current(start, end)
    return {
        "title": _text_of(entry, TITLE_KEYS),
        "company": _company(entry) or group_company,
        "location": _location(_first(entry, LOCATION_KEYS)),
        "start_year": start.year,
        "start_month": start.month,
        "end_year": None if end.present else end.year,
        "end_month": None if end.present else end.month,
        "is_current": is_current,
    }


def _dates(entry: dict[str, t.Any]) -> tuple[When, When]:
    """A position's start and end, from whichever way the entry gives them."""
    start = _checked(_as_int(entry.get("start_year")), _as_int(entry.get("start_month")))
    end = _checked(_as_int(entry.get("end_year")), _as_int(entry.get("end_month")))
    if start == When():
        start = parse_when(_first(entry, START_KEYS))
    if end == When():
        end = parse_when(_first(entry, END_KEYS))
    span = _first(entry, RANGE_KEYS)
    if isinstance(span, dict):  # LinkedIn's own {startDate: {...}, endDate: {...}}
        inner_start, inner_end = _dates(span)
        start = start if start != When() else inner_start
        end = end if end != When() else inner_end
    elif isinstance(span, str) and start == When():
        start_text, end_text = split_range(span)
        start = parse_when(start_text)
        if end == When() and end_text is not None:
            end = parse_when(end_text)
    return start, end


def _derive_current(start: When, end: When) -> bool | None:
    """A position is current if its end is "present", or it has a start and no end."""
    if end.present:
        return True
    if end.year is not None:
        return False
    if start.year is not None:
        return True
    return None


def _newest_first(positions: list[Position]) -> list[Position]:
    """Current positions first (latest start first), then by latest end; undated last.
    Ties keep the result's own order, which is LinkedIn's."""

    def age(position: Position) -> tuple[int, ...]:
        return (
            0 if position["is_current"] is True else 1,
            -(position["end_year"] or 0),
            -(position["end_month"] or 0),
            -(position["start_year"] or 0),
            -(position["start_month"] or 0),
        )

    return sorted(positions, key=age)


def _current_job(
    profile: dict[str, t.Any], positions: list[Position] | None
) -> tuple[str | None, str | None]:
    """Title and company now: the newest current position; if no position says whether
    it is current, the first one; else whatever current fields the profile names."""
    for position in positions or ():
        if position["is_current"] is True:
            return position["title"], position["company"]
    if positions and positions[0]["is_current"] is None:
        return positions[0]["title"], positions[0]["company"]
    return _text_of(profile, CURRENT_TITLE_KEYS), _company_of(profile, CURRENT_COMPANY_KEYS)


def _company(entry: dict[str, t.Any]) -> str | None:
    return _company_of(entry, COMPANY_KEYS)


def _company_of(entry: dict[str, t.Any], keys: tuple[str, ...]) -> str | None:
    value = _first(entry, keys)
    if isinstance(value, dict):
        return _text_of(value, ("name", "company_name", "title"))
    return _text(value)


def _education(entries: list[t.Any], problems: list[ProfileProblem]) -> list[Record]:
    schools: list[Record] = []
    for entry in entries:
        if not isinstance(entry, dict):
            problems.append(ProfileProblem.ENTRY_UNREADABLE)
            continue
        start, end = _dates(entry)
        schools.append(
            {
                "school": _company_of(entry, SCHOOL_KEYS),
                "degree": _text_of(entry, DEGREE_KEYS),
                "field_of_study": _text_of(entry, FIELD_KEYS),
                "start_year": start.year,
                "end_year": end.year,
            }
        )
    return schools


def _skills(entries: list[t.Any], problems: list[ProfileProblem]) -> list[str]:
    skills: list[str] = []
    for entry in entries:
        skill = _text_of(entry, SKILL_NAME_KEYS) if isinstance(entry, dict) else _text(entry)
        if skill is not None:
            skills.append(skill)
        elif not isinstance(entry, (dict, str)):
            problems.append(ProfileProblem.ENTRY_UNREADABLE)
    return skills


# -- small readers ---------------------------------------------------------------------


def _has_any(mapping: dict[str, t.Any], keys: tuple[str, ...]) -> bool:
    return any(mapping.get(key) is not None for key in keys)


def _first(mapping: dict[str, t.Any], keys: tuple[str, ...]) -> t.Any:
    """The value of the first key present and not null (nor empty text)."""
    for key in keys:
        value = mapping.get(key)
        if value is not None and value != "":
            return value
    return None


def _text_of(mapping: dict[str, t.Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        text = _text(mapping.get(key))
        if text is not None:
            return text
    return None


def _text(value: t.Any) -> str | None:
    """Text as given, or None if it is not text or only blanks."""
    return value if isinstance(value, str) and value.strip() else None


def _as_int(value: t.Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _checked(year: int | None, month: int | None) -> When:
    """A date kept only if plausible; a month without a year means nothing."""
    if year is None or not EARLIEST_YEAR <= year <= LATEST_YEAR:
        return When()
    return When(year, month if month is not None and 1 <= month <= 12 else None)
