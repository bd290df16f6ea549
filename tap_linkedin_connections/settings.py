"""The tap's settings: the one place each is declared and documented.

``--about --format=markdown`` renders this schema as the README's settings table, and
scripts/update_hub.py as the Meltano Hub definition.
"""

from __future__ import annotations

import typing as t

from singer_sdk import typing as th
from typing_extensions import override

from tap_linkedin_connections.validation import RECENTLY_ADDED, RELEVANCE


class Setting(th.Property[t.Any]):
    """A setting that cannot be null (the SDK makes every optional property nullable).

    The tap reads such a setting as its type, so a null must be refused before the run.
    """

    @override
    def to_dict(self) -> dict[str, t.Any]:
        schema: dict[str, t.Any] = super().to_dict()
        types = schema[self.name]["type"]
        schema[self.name]["type"] = [kind for kind in types if kind != "null"]
        return schema


def _seconds(name: str, default: float, description: str) -> Setting:
    return Setting(
        name, th.NumberType(exclusive_minimum=0), default=default, description=description
    )


CONFIG_SCHEMA: dict[str, t.Any] = th.PropertiesList(
    th.Property(
        "api_key",
        th.StringType(min_length=1),
        secret=True,
        title="API key",
        description=(
            "Your OutX team's API key, sent as the `x-api-key` header. Every team "
            "member shares it: treat it as a password. It is never logged or written "
            "to state. Its rows carry the account name `default`. Not used when "
            "`accounts` is set."
        ),
    ),
    th.Property(
        "accounts",
        th.ArrayType(
            th.ObjectType(
                th.Property(
                    "name",
                    th.StringType(min_length=1, max_length=100),
                    required=True,
                    description="The account's name, written in each of its rows.",
                ),
                th.Property(
                    "api_key",
                    th.StringType(min_length=1),
                    required=True,
                    secret=True,
                    description="The OutX API key of the account's team.",
                ),
                th.Property(
                    "api_url",
                    th.StringType,
                    description="Base URL of the OutX API for this account; api_url if unset.",
                ),
                th.Property(
                    "linkedin_export",
                    th.StringType,
                    description=(
                        "The account member's LinkedIn export (Connections.csv or the "
                        "export's .zip); see linkedin_export."
                    ),
                ),
                additional_properties=False,
            )
        ),
        secret=True,
        title="Accounts",
        description=(
            "Several LinkedIn accounts (one per OutX team), read side by side into "
            "one table: a list of `{name, api_key, api_url, linkedin_export}` (the "
            "last two optional), e.g. from `TAP_LINKEDIN_CONNECTIONS_ACCOUNTS` as "
            "JSON. Each row carries "
            "its account's name; each account keeps its own state, task ledger and "
            "pacing (two entries with one key share one budget). A table version is "
            "activated only once every account's full pass proved complete. When "
            "set, `api_key` is not used."
        ),
    ),
    Setting(
        "api_url",
        th.StringType,
        default="https://api.outx.ai",
        title="API URL",
        description=(
            "Base URL of the OutX API. Must be https, except for a loopback host "
            "(such as the bundled sandbox on http://127.0.0.1:8765)."
        ),
    ),
    th.Property(
        "keyword",
        th.StringType,
        title="Name filter",
        description=(
            "Only connections whose name contains this text. Changing it starts a new full pass."
        ),
    ),
    Setting(
        "sort_type",
        th.StringType(allowed_values=[RECENTLY_ADDED, RELEVANCE]),
        default=RECENTLY_ADDED,
        title="Order",
        description=(
            "`RECENTLY_ADDED` reads newest connections first, which lets later runs "
            "stop at the first connection already loaded (incremental). "
            "`RELEVANCE` is LinkedIn's default order; every run is then a full pass."
        ),
    ),
    Setting(
        "page_size",
        th.IntegerType(minimum=2, maximum=100),
        default=100,
        title="Page size",
        description=(
            "Connections per task (2-100). Every task is one LinkedIn action, so "
            "the largest page costs the fewest actions. Consecutive pages overlap by "
            "a few connections (3 at 12 and more), to prove nothing slipped between "
            "them. A pass keeps the page size it started with."
        ),
    ),
    Setting(
        "max_deleted_fraction",
        th.NumberType(minimum=0, maximum=1),
        default=0.1,
        title="Largest share of rows a full pass may delete",
        description=(
            "A full pass ends with ACTIVATE_VERSION (which lets a target delete the "
            "rows it did not re-send) only if it found at least (1 - this) times the "
            "connections of the last complete pass. 1 turns this guard off: use it "
            "once when many connections really were removed."
        ),
    ),
    _seconds(
        "poll_interval_min_seconds",
        1.0,
        "Shortest wait between two status polls of a task. Polling starts at the "
        "expected completion time (learnt from earlier tasks), then every this many "
        "seconds, doubling towards the maximum.",
    ),
    _seconds(
        "poll_interval_max_seconds",
        10.0,
        "Longest wait between two status polls of a task.",
    ),
    _seconds(
        "task_timeout_seconds",
        180.0,
        "How long one task may take, counted from when the tap starts waiting for "
        "it, before it is submitted again (OutX advises 2-3 minutes).",
    ),
    Setting(
        "max_task_attempts",
        th.IntegerType(minimum=1),
        default=3,
        title="Attempts per page",
        description=(
            "Tasks created at most for one page: a task that fails, times out or is "
            "unknown to OutX is submitted again until this many were tried; then "
            "the run fails, naming the offset and the task ids."
        ),
    ),
    _seconds(
        "request_timeout_seconds",
        30.0,
        "Longest time one HTTP request to OutX may take, from connecting to the last "
        "byte of the answer (a server sending its answer slowly is cut off); a "
        "request over it is retried like any timeout.",
    ),
    Setting(
        "max_request_attempts",
        th.IntegerType(minimum=1),
        default=6,
        title="Attempts per HTTP request",
        description=(
            "HTTP attempts for one request when OutX or the network fails "
            "transiently (429, 5xx, resets, timeouts, garbled answers)."
        ),
    ),
    _seconds(
        "retry_initial_wait_seconds",
        2.0,
        "First wait before retrying a failed HTTP request; it doubles on each retry "
        "(with jitter) up to the maximum. A `Retry-After` header wins.",
    ),
    _seconds(
        "retry_max_wait_seconds",
        60.0,
        "Longest wait between two HTTP retries, unless `Retry-After` asks for more.",
    ),
    Setting(
        "max_tasks_in_flight",
        th.IntegerType(minimum=1, maximum=10),
        default=1,
        title="Tasks in flight",
        description=(
            "During a full pass, how many page tasks may be queued at once. With 2, "
            "the next page's task waits in OutX's queue while one runs, so the "
            "extension never idles between pages (faster when pacing allows), at "
            "the cost of at most one task beyond the end of the list per full pass. "
            "1 creates exactly the tasks needed. Incremental runs always use 1."
        ),
    ),
    th.Property(
        "max_tasks_per_hour",
        th.IntegerType(minimum=0, nullable=True),
        default=50,
        title="Tasks per hour",
        description=(
            "Most tasks (LinkedIn actions) created in any rolling hour by every run "
            "on the account (counted in the task ledger; in state when the ledger "
            "is off). Every create that may have reached OutX counts, retries after "
            "a lost answer included. The tap waits rather than bursts. OutX advises "
            "about 50. Null or 0 means no limit (0 for Meltano, which cannot pass "
            "null)."
        ),
    ),
    th.Property(
        "max_tasks_per_day",
        th.IntegerType(minimum=0, nullable=True),
        default=400,
        title="Tasks per day",
        description=(
            "Most tasks created in any rolling 24 hours on the account, counted like "
            "max_tasks_per_hour. A run that would wait more than an hour for a slot "
            "stops instead (state saved, exit 0); the next run goes on. Null or 0 "
            "means no limit."
        ),
    ),
    Setting(
        "task_spacing_min_seconds",
        th.NumberType(minimum=0),
        default=10.0,
        title="Shortest gap between tasks (s)",
        description=(
            "Each task is created a random gap after the account's previous one, "
            "between this and task_spacing_max_seconds, never less, so actions do "
            "not come in bursts. 0 and 0 turn spacing off."
        ),
    ),
    Setting(
        "task_spacing_max_seconds",
        th.NumberType(minimum=0),
        default=30.0,
        title="Longest gap between tasks (s)",
        description="The upper end of the random gap between two task creations.",
    ),
    th.Property(
        "active_hours",
        th.StringType,
        title="Active hours",
        description=(
            "Local times within which tasks may be created, e.g. `08:00-20:00` "
            "(`22:00-06:00` spans midnight); empty means any time. A run that "
            "reaches the end of the window finishes the tasks in flight, saves "
            "its state and exits 0, saying when the window opens again."
        ),
    ),
    th.Property(
        "timezone",
        th.StringType,
        default="UTC",
        title="Time zone",
        description="IANA time zone of active_hours, e.g. `Europe/Paris`.",
    ),
    _seconds(
        "pickup_timeout_seconds",
        900.0,
        "How long a task may wait for the Chrome extension to pick it up. A task "
        "not yet picked up is never created again (the copy would wait in the same "
        "queue); after this long the run ends (exit 0), keeping its tasks for the "
        "next run.",
    ),
    th.Property(
        "task_ledger",
        th.StringType,
        title="Task ledger",
        description=(
            "Where every task created is recorded, per account, outside state, beside "
            "the memory of each account's list (the network history: when each "
            "connection was first and last read, removals, events): a "
            "file path (SQLite) or a SQLAlchemy URL such as "
            "`postgresql+psycopg://user@host/db` (needs the `postgres` extra). "
            "Unset: `ledger.sqlite` in the user's state directory (on Linux "
            "`$XDG_STATE_HOME/tap-linkedin-connections/`). `none` turns it off: "
            "pacing then counts only the runs sharing one state, a run whose "
            "state was lost creates its tasks again, `first_seen_at` and `removed_at` "
            "stay null and `connection_events` sends nothing."
        ),
    ),
    th.Property(
        "max_tasks_per_run",
        th.IntegerType(minimum=1, nullable=True),
        title="Tasks per run",
        description=(
            "Most tasks one run may create (for each account, with `accounts`). A "
            "large first sync then spreads over several scheduled runs, each "
            "continuing where the last stopped. Unset means no limit."
        ),
    ),
    Setting(
        "full_refresh",
        th.BooleanType,
        default=False,
        title="Full refresh",
        description=(
            "Read the whole list even when state allows an incremental run. A full "
            "pass that completes ends with ACTIVATE_VERSION, so targets that honour "
            "it drop connections that no longer exist."
        ),
    ),
    Setting(
        "removed_connections",
        th.StringType(allowed_values=["mark", "delete"]),
        default="mark",
        title="Removed connections",
        description=(
            "How a removal reaches the loader, once a full pass proved itself complete "
            "and no longer found a connection. `mark`: every removed connection is sent "
            "as a row with `is_connected` false and `removed_at`, which every loader "
            "shows (target-duckdb, BigQuery, CSV and JSONL files ignore "
            "ACTIVATE_VERSION); ACTIVATE_VERSION is sent too, and the marked rows "
            "survive it. `delete`: only ACTIVATE_VERSION, so only loaders that honour "
            "it drop the row (target-postgres, target-snowflake). `mark` needs the task "
            "ledger, which remembers the list: with `task_ledger: none` it acts as "
            "`delete`."
        ),
    ),
    th.Property(
        "linkedin_export",
        th.StringType,
        title="LinkedIn export",
        description=(
            "Path of your LinkedIn data export's `Connections.csv`, or of the export's "
            "`.zip` (LinkedIn: Settings, Data privacy, Get a copy of your data). It "
            "costs no LinkedIn action: connections are matched by profile URL and "
            "gain `connected_on`, `company` and `position`; lines that match nothing "
            "are counted in one log line. Checked before any request; a relative path "
            "is read from the working directory (with Meltano, the project's). With "
            "`accounts`, each entry names its own (`linkedin_export` in the entry) and "
            "this one is not used: an export holds one member's connections."
        ),
    ),
    Setting(
        "linkedin_export_emails",
        th.BooleanType,
        default=False,
        title="Email addresses from the LinkedIn export",
        description=(
            "Also load `email_address` from the export. Off by default: an email "
            "address is personal data that your connections chose to share with you "
            "(LinkedIn exports about a quarter of them), not with your warehouse; "
            "turn it on only with a lawful reason to keep it, and mind who can read "
            "the table."
        ),
    ),
    Setting(
        "max_profile_fetches_per_day",
        th.IntegerType(minimum=0),
        default=50,
        title="Profile fetches per day",
        description=(
            "Most profiles fetched in any rolling 24 hours on the account, when the "
            "opt-in `profiles` stream is selected: each fetch is one profile view on "
            "your LinkedIn account (automation vendors advise 50-80 a day). Counted in "
            "the task ledger across every pipeline on the account, within "
            "max_tasks_per_hour and max_tasks_per_day, which the connection pages use "
            "first. 0 means no cap of its own."
        ),
    ),
    th.Property(
        "profile_refresh_days",
        th.IntegerType(minimum=1, nullable=True),
        title="Profile refresh age (days)",
        description=(
            "Fetch again, once every other due profile is fetched, a profile fetched "
            "longer ago than this many days, oldest first. Unset: a profile is fetched "
            "again only when its headline in the connection list changes (the cheap "
            "signal of a job change)."
        ),
    ),
    _seconds(
        "progress_interval_seconds",
        60.0,
        "How often a long sync logs a progress line to stderr.",
    ),
).to_dict()
