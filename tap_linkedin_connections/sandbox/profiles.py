"""Profiles in the sandbox: OutX's fetch-profile, and a control to change someone's job.

A profile is derived from its connection (name, headline, slug, URN) and a seed, so it
agrees with the connection list: the current position's title is the headline's ("Data
Scientist at Acme" holds Data Scientist at Acme; a headline of another form is the title
itself; an empty headline or "Open to work" holds no current position). A job change
ends the current positions, adds the new one, and sets the connection's headline to
"<title> at <company>", as LinkedIn does when a member adds a position.

The result comes in the shape of the ``profile_shape`` setting: ``flat``, the provider's
docs (``name``, ``profile_url``, ``experience`` with "Jan 2020"/"Present" dates), or
``nested``, the client in the wild (``profile`` with ``full_name``, ``profile_slug``,
``profile_urn``, ``positions[]`` with year and month fields). A slug not in the list, or
one marked hidden, gives a failed task: OutX documents no message for it, the sandbox's
``task_output`` holds an ``error`` text.

Standard library only, like the rest of the sandbox; this module does not import
server.py, which hooks it in (routes, the handler mix-in, the extension's task runner).
"""

from __future__ import annotations

import random
import re
import threading
import typing as t
from datetime import datetime, timezone

from tap_linkedin_connections.sandbox.data import RECENTLY_ADDED, Connection, ConnectionBook

PROFILE_CREATE_PATH = "/linkedin-agent/fetch-profile"
CHANGE_JOB_PATH = "/_sandbox/connections/change-job"
HIDE_PATH = "/_sandbox/profiles/hide"
PROFILE_PATH = "/_sandbox/profiles"
PROFILE_TASK_TYPE = "agent_profile_fetch"
PROFILE_SHAPES = ("flat", "nested")
PROFILE_CREATED = "Profile fetch task created successfully"
NOT_FOUND_ERROR = "Profile not found"
NOT_VISIBLE_ERROR = "Profile not visible to this LinkedIn account"

# (path) -> (method, endpoint name for the request counters, handler method name); the
# handlers are ProfileHandlers' methods.
PROFILE_ROUTES = {
    PROFILE_CREATE_PATH: ("POST", "create", "_handle_profile_create"),
    CHANGE_JOB_PATH: ("POST", "control", "_handle_change_job"),
    HIDE_PATH: ("POST", "control", "_handle_hide_profiles"),
    PROFILE_PATH: ("GET", "control", "_handle_get_profile"),
}

LOCATIONS = (
    "Paris, Île-de-France, France",
    "San Francisco Bay Area",
    "Berlin, Germany",
    "東京都, 日本",
    "Cairo, Egypt",
    "London, England, United Kingdom",
)
SCHOOLS = ("Université Paris-Saclay", "Stanford University", "東京大学", "TU München", "MIT")
DEGREES = ("Master of Science", "Bachelor of Arts", "PhD", "MBA")
FIELDS = ("Computer Science", "Economics", "Mathématiques", "Design")
SKILLS = ("Python", "SQL", "Négociation", "Leadership", "機械学習", "Public Speaking", "Go")
PAST_ROLES = ("Analyst", "Intern", "Consultant", "Engineer", "Account Executive")
PAST_COMPANIES = ("Initech", "Globex", "Hooli", "Umbrella", "Acme", "Société Générale")
NO_CURRENT_JOB = ("", "open to work")
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# LinkedIn shows at most "500+" connections to anyone but the member.
SHOWN_CONNECTIONS_MAX = 500

# "<title> at <company>", the company ending at the first comma, period, bar or line end.
TITLE_AT_COMPANY = re.compile(r"(?P<title>.+?) at (?P<company>[^,.|\n]+)")

Profile = dict[str, t.Any]
Job = tuple[str, str | None]


def parse_profile_input(body: t.Any) -> dict[str, t.Any]:
    """The task input the service stores for a fetch-profile request."""
    slug = body.get("profile_slug") if isinstance(body, dict) else None
    if not isinstance(slug, str) or not slug.strip():
        raise ValueError("Missing or invalid 'profile_slug'")
    return {"task_type": PROFILE_TASK_TYPE, "profile_slug": slug}


def job_in_headline(headline: str) -> Job | None:
    """The current (title, company) a headline shows, None for no current job."""
    if headline.strip().casefold() in NO_CURRENT_JOB:
        return None
    match = TITLE_AT_COMPANY.match(headline)
    if match is None:
        return headline, None
    return match.group("title").strip(), match.group("company").strip()


def base_profile(seed: int, connection: Connection) -> Profile:
    """The profile of a connection with its headline as first made, before any change."""
    rng = random.Random(f"{seed}/profile/{connection['entity_urn']}")
    job = job_in_headline(str(connection["headline"]))
    year = rng.randint(2014, 2024)
    positions: list[Profile] = []
    if job is not None:
        title, company = job
        company = company or rng.choice(PAST_COMPANIES)
        positions.append(_position(rng, title, company, (year, rng.randint(1, 12)), None))
    for _ in range(rng.randint(0, 3)):
        end = (year, rng.randint(1, 12))
        year -= rng.randint(1, 4)
        # Some positions show a year only, as LinkedIn allows.
        start = (year, rng.randint(1, 12) if rng.random() < 0.8 else None)
        positions.append(
            _position(rng, rng.choice(PAST_ROLES), rng.choice(PAST_COMPANIES), start, end)
        )
    study_end = year - rng.randint(0, 2)
    return {
        "name": connection["name"],
        "first_name": connection["first_name"],
        "last_name": connection["last_name"],
        "headline": connection["headline"],
        "public_identifier": connection["public_identifier"],
        "entity_urn": connection["entity_urn"],
        "location": rng.choice(LOCATIONS),
        "about": rng.choice((None, "I like building things with people.", "Ask me about data.")),
        "connections": rng.choice((rng.randint(0, 499), rng.randint(500, 30000))),
        "followers": rng.randint(0, 50000),
        "positions": positions,
        "education": [
            {
                "school": rng.choice(SCHOOLS),
                "degree": rng.choice(DEGREES),
                "field_of_study": rng.choice(FIELDS),
                "start_year": study_end - rng.randint(2, 5),
                "end_year": study_end,
            }
        ],
        "skills": rng.sample(SKILLS, rng.randint(0, 4)),
    }


def _position(
    rng: random.Random,
    title: str,
    company: str,
    start: tuple[int, int | None],
    end: tuple[int, int | None] | None,
) -> Profile:
    return {
        "title": title,
        "company": company,
        "location": rng.choice(LOCATIONS),
        "start_year": start[0],
        "start_month": start[1],
        "end_year": end[0] if end else None,
        "end_month": end[1] if end else None,
        "is_current": end is None,
    }


def with_job(profile: Profile, title: str, company: str, started: tuple[int, int]) -> Profile:
    """``profile`` after taking a new job: current positions end when it starts."""
    ended = [
        {**p, "end_year": started[0], "end_month": started[1], "is_current": False}
        if p["is_current"]
        else p
        for p in profile["positions"]
    ]
    new = {
        "title": title,
        "company": company,
        "location": ended[0]["location"] if ended else LOCATIONS[0],
        "start_year": started[0],
        "start_month": started[1],
        "end_year": None,
        "end_month": None,
        "is_current": True,
    }
    return {**profile, "headline": f"{title} at {company}", "positions": [new, *ended]}


# -- the two shapes ------------------------------------------------------------------------


def render(profile: Profile, shape: str) -> dict[str, t.Any]:
    """``task_output`` of a completed fetch-profile task, in ``shape``."""
    return _render_nested(profile) if shape == "nested" else _render_flat(profile)


def _render_flat(profile: Profile) -> dict[str, t.Any]:
    connections = profile["connections"]
    return {
        "name": profile["name"],
        "headline": profile["headline"],
        "location": profile["location"],
        "profile_url": f"https://www.linkedin.com/in/{profile['public_identifier']}",
        "connections": f"{SHOWN_CONNECTIONS_MAX}+"
        if connections >= SHOWN_CONNECTIONS_MAX
        else connections,
        "followers": profile["followers"],
        "about": profile["about"],
        "experience": [
            {
                "title": p["title"],
                "company": p["company"],
                "location": p["location"],
                "start_date": _month_year(p["start_year"], p["start_month"]),
                "end_date": "Present"
                if p["is_current"]
                else _month_year(p["end_year"], p["end_month"]),
            }
            for p in profile["positions"]
        ],
        "education": [
            {
                "school": e["school"],
                "degree": e["degree"],
                "field_of_study": e["field_of_study"],
                "start_date": str(e["start_year"]),
                "end_date": str(e["end_year"]),
            }
            for e in profile["education"]
        ],
        "skills": list(profile["skills"]),
    }


def _render_nested(profile: Profile) -> dict[str, t.Any]:
    return {
        "profile": {
            "full_name": profile["name"],
            "first_name": profile["first_name"],
            "last_name": profile["last_name"],
            "headline": profile["headline"],
            "location": profile["location"],
            "profile_slug": profile["public_identifier"],
            "profile_urn": profile["entity_urn"],
            "summary": profile["about"],
            "connections_count": min(profile["connections"], SHOWN_CONNECTIONS_MAX),
            "followers_count": profile["followers"],
            "positions": [
                {
                    "title": p["title"],
                    "company_name": p["company"],
                    "location": p["location"],
                    "start_year": p["start_year"],
                    "start_month": p["start_month"],
                    "end_year": p["end_year"],
                    "end_month": p["end_month"],
                    "is_current": p["is_current"],
                }
                for p in profile["positions"]
            ],
            "education": [
                {
                    "school_name": e["school"],
                    "degree_name": e["degree"],
                    "field_of_study": e["field_of_study"],
                    "start_year": e["start_year"],
                    "end_year": e["end_year"],
                }
                for e in profile["education"]
            ],
            "skills": [{"name": skill} for skill in profile["skills"]],
        }
    }


def _month_year(year: int, month: int | None) -> str:
    return f"{MONTH_NAMES[month - 1]} {year}" if month else str(year)


# -- state -----------------------------------------------------------------------------------


class ProfileDesk:
    """The sandbox's profiles: job changes and hidden profiles over its connection list.

    Shares the sandbox's lock (re-entrant) and its ConnectionBook, whose connection dicts
    are live: a job change sets the headline there, in both list orders at once.
    """

    def __init__(self, lock: threading.Condition, book: ConnectionBook, seed: int) -> None:
        self._lock = lock
        self._book = book
        self._seed = seed
        self._hidden: set[str] = set()
        # entity_urn -> (headline as first made, [(title, company, (year, month))])
        self._changes: dict[str, tuple[str, list[tuple[str, str, tuple[int, int]]]]] = {}

    def profile(self, slug: str) -> Profile | None:
        """The profile the slug names now, whether hidden or not; None if unknown."""
        with self._lock:
            connection = self._find(slug=slug)
            return None if connection is None else self._profile_of(connection)

    def fetch(self, slug: str, shape: str) -> tuple[str, t.Any]:
        """What the extension finds for a fetch-profile task: (status, task_output)."""
        with self._lock:
            connection = self._find(slug=slug)
            if connection is None:
                return "failed", {"error": NOT_FOUND_ERROR}
            if connection["entity_urn"] in self._hidden:
                return "failed", {"error": NOT_VISIBLE_ERROR}
            return "completed", render(self._profile_of(connection), shape)

    def change_job(
        self,
        *,
        title: str,
        company: str,
        entity_urn: str | None = None,
        slug: str | None = None,
        started: tuple[int, int] | None = None,
    ) -> dict[str, t.Any]:
        """Give a connection a new current job (from ``started``, default this month);
        returns {"connection", "profile"} as they are now."""
        for name, value in (("title", title), ("company", company)):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"'{name}' must be a non-empty string")
        if started is None:
            today = datetime.now(timezone.utc)
            started = (today.year, today.month)
        with self._lock:
            connection = self._find(entity_urn=entity_urn, slug=slug)
            if connection is None:
                raise ValueError(f"no connection with entity_urn {entity_urn!r} or slug {slug!r}")
            urn = str(connection["entity_urn"])
            _, changes = self._changes.setdefault(urn, (connection["headline"], []))
            changes.append((title, company, started))
            connection["headline"] = f"{title} at {company}"
            return {"connection": dict(connection), "profile": self._profile_of(connection)}

    def hide(
        self,
        entity_urns: list[str] | None = None,
        slugs: list[str] | None = None,
        hidden: bool = True,
    ) -> list[str]:
        """Make profiles fail as not visible (or visible again); returns the URNs found."""
        with self._lock:
            found = [c for u in entity_urns or () if (c := self._find(entity_urn=u)) is not None]
            found += [c for s in slugs or () if (c := self._find(slug=s)) is not None]
            urns = list(dict.fromkeys(str(c["entity_urn"]) for c in found))
            if hidden:
                self._hidden.update(urns)
            else:
                self._hidden.difference_update(urns)
            return urns

    def _find(self, entity_urn: str | None = None, slug: str | None = None) -> Connection | None:
        """The live connection dict (lock held), by URN or by slug in any case."""
        wanted = slug.casefold() if isinstance(slug, str) else None
        for connection in self._book.ordered(RECENTLY_ADDED):
            if connection["entity_urn"] == entity_urn:
                return connection
            if wanted is not None and str(connection["public_identifier"]).casefold() == wanted:
                return connection
        return None

    def _profile_of(self, connection: Connection) -> Profile:
        first_headline, changes = self._changes.get(
            str(connection["entity_urn"]), (connection["headline"], [])
        )
        profile = base_profile(self._seed, {**connection, "headline": first_headline})
        for title, company, started in changes:
            profile = with_job(profile, title, company, started)
        return profile


# -- HTTP ------------------------------------------------------------------------------------


class _HandlerLike(t.Protocol):
    """What the profile handlers use of the sandbox's request handler."""

    @property
    def server(self) -> t.Any: ...

    def _json_body(self) -> t.Any: ...

    def _control_body(self) -> dict[str, t.Any]: ...

    def _query_param(self, name: str) -> str | None: ...

    def _create(self, task_input: dict[str, t.Any], message: str) -> t.Any: ...


class ProfileHandlers:
    """The profile endpoints, mixed into the sandbox's request handler (see ROUTES)."""

    def _handle_profile_create(self: _HandlerLike) -> t.Any:
        return self._create(parse_profile_input(self._json_body()), PROFILE_CREATED)

    def _handle_change_job(self: _HandlerLike) -> t.Any:
        body = self._control_body()
        slug = body.get("slug", body.get("public_identifier"))
        changed = self.server.sandbox.profiles.change_job(
            title=body.get("title"),
            company=body.get("company"),
            entity_urn=body.get("entity_urn"),
            slug=slug,
        )
        return 200, changed

    def _handle_hide_profiles(self: _HandlerLike) -> t.Any:
        body = self._control_body()
        entity_urns, slugs = body.get("entity_urns"), body.get("slugs")
        for name, value in (("entity_urns", entity_urns), ("slugs", slugs)):
            if value is not None and not isinstance(value, list):
                raise ValueError(f"'{name}' must be a list")
        hidden = body.get("hidden", True)
        if not isinstance(hidden, bool):
            raise ValueError("'hidden' must be true or false")
        found = self.server.sandbox.profiles.hide(entity_urns, slugs, hidden=hidden)
        return 200, {"success": True, "entity_urns": found}

    def _handle_get_profile(self: _HandlerLike) -> t.Any:
        slug = self._query_param("slug") or ""
        profile = self.server.sandbox.profiles.profile(slug)
        if profile is None:
            return 404, {"error": f"no connection with slug {slug!r}"}
        return 200, profile
