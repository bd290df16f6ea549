"""The OutX LinkedIn Data API over HTTP: authentication, task create and poll, retries, errors.

Everything OutX does is an asynchronous *task*: a POST to the kind's endpoint queues it,
a Chrome extension in the user's real LinkedIn session runs it, and a status endpoint
is polled until it completes. This module speaks that protocol and nothing more: it
knows no kind of task (``kinds.py`` declares them), and which tasks to create, when,
and what to do with their output is the engine's business (``engine/runner.py``).
"""

from __future__ import annotations

import email.utils
import enum
import http.client
import logging
import random
import re
import time
import typing as t
import uuid
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import backoff
import requests

from tap_linkedin_connections.outx.kinds import TaskAnswer, status_of
from tap_linkedin_connections.outx.transport import BoundedSession, DeadlineExceeded

TASK_STATUS_PATH = "/linkedin-agent/get-task-status"

#: A task id in a create answer whose JSON arrived garbled or cut short.
TASK_ID_IN_TEXT = re.compile(
    r'"api_agent_task_id"\s*:\s*"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-'
    r'[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"'
)

#: OutX's answer for a task id it does not know (HTTP 404 ``{"error": "Agent task not
#: found"}``): the one answer that proves, at no LinkedIn action, that the URL is OutX
#: and that it accepted the key. A wrong base path or another web server 404s otherwise.
OUTX_TASK_NOT_FOUND = re.compile(r"^agent task not found", re.IGNORECASE)

#: The longest ``Retry-After`` honoured as given; a longer one is waited in full by no
#: unattended job, so it is cut here and the retry budget decides.
MAX_RETRY_AFTER_SECONDS = 900.0

#: Where a module logs: the stream's logger, or an adapter naming the account.
Log = t.Union[logging.Logger, "logging.LoggerAdapter[logging.Logger]"]


class OutXError(Exception):
    """A failure the user can act on. Its message is one line and never holds the key."""


class ApiKeyRejected(OutXError):
    """OutX answered 401: the key is missing or wrong."""


class ExtensionInactive(OutXError):
    """OutX answered 403: no team member's Chrome extension is active."""


class RequestRejected(OutXError):
    """OutX answered 400 to a request field."""


class TaskNotFound(OutXError):
    """HTTP 404 for a task id: OutX does not know (or no longer knows) it.

    ``said_by_outx``: the body is OutX's own "Agent task not found" (not a gateway's or
    another server's 404 page).
    """

    def __init__(self, message: str, *, said_by_outx: bool = True, answer: str = "") -> None:
        super().__init__(message)
        self.said_by_outx = said_by_outx
        #: The answer in a few words (status and error text or body kind), no key.
        self.answer = answer


class NotOutX(OutXError):
    """The configured URL answered, but not as OutX does."""


class Redirected(OutXError):
    """The server answered with a redirect, which is never followed (the key stays home)."""


class ServiceUnavailable(OutXError):
    """A request still failed after every retry."""


class MalformedPage(OutXError):
    """A completed task's result is not what its kind reads (a page of connections...)."""


class TaskGaveUp(OutXError):
    """A task failed, timed out or was lost on every attempt."""


class RetriableError(Exception):
    """A transient failure: the same request may succeed if sent again.

    ``may_have_reached_server`` is False only when the failure proves the service did
    not act on the request (HTTP 429, a refused connection, a failed TLS handshake): a
    create retried after such a failure cannot have queued a task before.
    """

    def __init__(
        self,
        reason: str,
        retry_after: float | None = None,
        *,
        may_have_reached_server: bool = True,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.may_have_reached_server = may_have_reached_server


class Endpoint(enum.Enum):
    """The two requests the tap sends: (method, what a failure was doing).

    A create goes to its kind's path (see kinds.py), a poll to TASK_STATUS_PATH.
    """

    CREATE_TASK = ("POST", "creating a task")
    TASK_STATUS = ("GET", "polling a task")

    def __init__(self, method: str, doing: str) -> None:
        self.method = method
        self.doing = doing


@dataclass(frozen=True)
class SettingNames:
    """How a message names the settings a client was built from: the tap's own, or
    those of an ``accounts`` entry (by position and name, never by key)."""

    api_key: str
    api_url: str

    @classmethod
    def of_entry(cls, entry: str, *, own_url: bool) -> SettingNames:
        """``entry``: e.g. ``accounts entry 2 ('sales')``; ``own_url``: it sets api_url."""
        return cls(
            api_key=f"'api_key' of {entry}",
            api_url=f"'api_url' of {entry}"
            if own_url
            else f"the 'api_url' setting (or 'api_url' of {entry})",
        )


#: The tap's own settings, as the one-account form uses them.
TAP_SETTINGS = SettingNames(
    api_key="the 'api_key' setting (TAP_LINKEDIN_CONNECTIONS_API_KEY)",
    api_url="the 'api_url' setting (TAP_LINKEDIN_CONNECTIONS_API_URL)",
)


_Answer = t.TypeVar("_Answer")


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


class OutXClient:
    """Creates tasks of any kind and reads their status, retrying transient faults.

    Retries use bounded exponential backoff with jitter and honour ``Retry-After``.
    Status polls are reads and are retried freely. A create whose answer was lost may
    already have queued a task; OutX offers no way to find it again, so the create is
    retried too (the only way not to lose the page) and the possible duplicate is
    counted in :attr:`counters` as ``ambiguous_create_retries`` and logged.
    """

    def __init__(
        self,
        *,
        api_url: str,
        api_key: str,
        request_timeout: float,
        max_request_attempts: int,
        retry_initial_wait: float,
        retry_max_wait: float,
        user_agent: str,
        logger: Log,
        settings: SettingNames = TAP_SETTINGS,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.settings = settings
        self.request_timeout = request_timeout
        self.max_request_attempts = max_request_attempts
        self.retry_initial_wait = retry_initial_wait
        self.retry_max_wait = retry_max_wait
        self.logger = logger
        self.counters: Counter[str] = Counter()
        self._api_key = api_key
        # Follows no redirect, and bounds each request as a whole (see transport.py).
        self.session = BoundedSession()
        self.session.headers.update({"x-api-key": api_key, "User-Agent": user_agent})
        self._send_with_retries = backoff.on_exception(
            self._wait_times,
            RetriableError,
            max_tries=lambda: self.max_request_attempts,
            jitter=None,  # _wait_times applies its own jitter, never to Retry-After
            on_backoff=self._on_backoff,
            logger=None,
        )(self._send)

    @classmethod
    def from_config(
        cls,
        config: t.Mapping[str, t.Any],
        *,
        user_agent: str,
        logger: Log,
        settings: SettingNames = TAP_SETTINGS,
    ) -> OutXClient:
        """A client for the tap's settings (validated): the key as sent is stripped.

        ``settings``: how errors name the key and URL settings (an accounts entry's).
        """
        return cls(
            api_url=config["api_url"],
            api_key=config["api_key"].strip(),
            request_timeout=float(config["request_timeout_seconds"]),
            max_request_attempts=int(config["max_request_attempts"]),
            retry_initial_wait=float(config["retry_initial_wait_seconds"]),
            retry_max_wait=float(config["retry_max_wait_seconds"]),
            user_agent=user_agent,
            logger=logger,
            settings=settings,
        )

    def close(self) -> None:
        """Release the HTTP connection pool."""
        self.session.close()

    def create_task(
        self,
        path: str,
        body: dict[str, t.Any],
        before_retry: t.Callable[[bool], None] | None = None,
    ) -> str:
        """Queue a task at ``path`` (its kind's endpoint) and return its id.

        ``before_retry(may_have_queued)`` is called before each retry, after the
        previous attempt's answer was lost (True: it may have queued a task) or proved
        that nothing was queued (False: HTTP 429, connection refused). Pacing counts
        each attempt there; an exception from it ends the retries.
        """
        return self._call(
            Endpoint.CREATE_TASK, _read_task_id, path, json=body, before_retry=before_retry
        )

    def task_status(self, task_id: str) -> TaskAnswer:
        """Read a task's status once."""
        params = {"api_agent_task_id": task_id}
        return self._call(Endpoint.TASK_STATUS, _read_status, TASK_STATUS_PATH, params=params)

    def check_connection(self) -> None:
        """Check the key and the extension without creating a task (no LinkedIn action).

        Polls the status of a random task id that cannot exist: OutX answers 401 for a
        bad key, 403 when no team member's extension is active, and 404 "Agent task not
        found" when both are fine. Raises :class:`ApiKeyRejected` or
        :class:`ExtensionInactive` accordingly, and :class:`NotOutX` for any other
        answer (a 404 page of a wrong path or another server proves nothing).
        """
        params = {"api_agent_task_id": str(uuid.uuid4())}
        try:
            self._call(Endpoint.TASK_STATUS, self._not_outx, TASK_STATUS_PATH, params=params)
        except TaskNotFound as exc:
            if not exc.said_by_outx:
                raise self._not_outx_error(exc.answer) from None

    def _not_outx(self, response: requests.Response) -> t.NoReturn:
        # A task id that cannot exist has a status only on a server that is not OutX.
        raise self._not_outx_error(self._redact(_answer_text(response)))

    def _not_outx_error(self, answer: str) -> NotOutX:
        return NotOutX(
            self._redact(
                f"{_shown(self.api_url)} does not answer like OutX: asked for an unknown "
                f"task, it answered {answer} where OutX answers HTTP 404 'Agent task not "
                f"found'; check {self.settings.api_url} (OutX: https://api.outx.ai)"
            )
        )

    # HTTP plumbing

    def _call(
        self,
        endpoint: Endpoint,
        read: t.Callable[[requests.Response], _Answer],
        path: str,
        **kwargs: t.Any,
    ) -> _Answer:
        try:
            return self._send_with_retries(endpoint, read, path, **kwargs)
        except RetriableError as exc:
            msg = (
                f"OutX kept failing while {endpoint.doing}: {exc.reason} "
                f"(gave up after {self.max_request_attempts} attempts)"
            )
            raise ServiceUnavailable(msg) from None

    def _send(
        self,
        endpoint: Endpoint,
        read: t.Callable[[requests.Response], _Answer],
        path: str,
        **kwargs: t.Any,
    ) -> _Answer:
        """One request: transport and status-code faults here, the body to ``read``."""
        kwargs.pop("before_retry", None)  # for _on_backoff, not for requests
        url = self.api_url + path
        try:
            response = self.session.request_within(
                self.request_timeout, endpoint.method, url, **kwargs
            )
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ) as exc:
            raise _network_error(exc) from None

        code = response.status_code
        if code == 429 or code >= 500:
            raise RetriableError(
                self._redact(f"HTTP {code}{_error_suffix(response)}"),
                parse_retry_after(response.headers.get("Retry-After")),
                # A 429 refuses the request unread; a 5xx may come after the work.
                may_have_reached_server=code != 429,
            )
        if code == 404 and endpoint is Endpoint.TASK_STATUS:
            error = self._redact(_error_text(response))
            raise TaskNotFound(
                f"OutX does not know the task (HTTP 404{f' ({error})' if error else ''})",
                said_by_outx=bool(OUTX_TASK_NOT_FOUND.match(error)),
                answer=self._redact(_answer_text(response)),
            )
        if code >= 400:
            error = self._redact(_error_text(response))
            raise _fatal_error(code, error, endpoint, self.settings)
        if 300 <= code < 400:
            raise self._redirected(response, url, endpoint)
        return read(response)

    def _redirected(self, response: requests.Response, url: str, endpoint: Endpoint) -> Redirected:
        """A redirect as one line: where it pointed (scheme, host and port only)."""
        location = response.headers.get("Location")
        try:
            target = _origin(urljoin(url, location)) if location else ""
        except ValueError:
            target = ""
        pointing = f"pointing to {target}" if target else "without a usable Location"
        return Redirected(
            self._redact(
                f"{_origin(url)} answered HTTP {response.status_code} {pointing} while "
                f"{endpoint.doing}: the API key is sent to the configured host only, so no "
                f"redirect is followed; if that is OutX's address now, set "
                f"{self.settings.api_url} to it"
            )
        )

    def _redact(self, text: str) -> str:
        """Text from the service, without the key in case it echoes it."""
        return text.replace(self._api_key, "[redacted]") if self._api_key else text

    def _wait_times(self) -> t.Generator[float, t.Any, None]:
        """Seconds to wait before each retry; backoff sends in the exception."""
        attempt = 0
        exc = yield 0.0
        while True:
            if isinstance(exc, RetriableError) and exc.retry_after is not None:
                delay = exc.retry_after
            else:
                ceiling = min(self.retry_max_wait, self.retry_initial_wait * 2**attempt)
                delay = ceiling * random.uniform(0.5, 1.0)  # jitter spreads retries apart
            attempt += 1
            exc = yield delay

    def _on_backoff(self, details: t.Any) -> None:
        exc = details.get("exception")
        endpoint: Endpoint = details["args"][0]
        path: str = details["args"][2]
        reason = exc.reason if isinstance(exc, RetriableError) else type(exc).__name__
        self.counters["retries"] += 1
        # Only a create the service may have acted on may have queued a task.
        ambiguous = endpoint is Endpoint.CREATE_TASK and (
            not isinstance(exc, RetriableError) or exc.may_have_reached_server
        )
        if ambiguous:
            self.counters["ambiguous_create_retries"] += 1
        before_retry = details.get("kwargs", {}).get("before_retry")
        self.logger.warning(
            "OutX %s %s failed (%s); retry %d of %d in %.2fs%s",
            endpoint.method,
            path,
            reason,
            details["tries"],
            self.max_request_attempts - 1,
            details["wait"],
            " (the lost answer may have queued a task: one LinkedIn action may repeat)"
            if ambiguous
            else "",
        )
        if before_retry is not None:
            before_retry(ambiguous)


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


# Reading answers. A garbled answer is a lost one (RetriableError): a poll is simply
# asked again, and a create may have queued a task whose id did not arrive.


def _json_object(response: requests.Response) -> dict[str, t.Any]:
    try:
        answer = response.json()
    except ValueError:
        raise RetriableError(f"HTTP {response.status_code} with a body that is not JSON") from None
    if not isinstance(answer, dict):
        code = response.status_code
        raise RetriableError(f"HTTP {code} with a JSON body that is not an object")
    return answer


def _read_task_id(response: requests.Response) -> str:
    try:
        task_id = _json_object(response).get("api_agent_task_id")
    except RetriableError:
        salvaged = TASK_ID_IN_TEXT.search(response.text)
        if salvaged is None:
            raise
        # The task exists and its id arrived whole: sending the create again would
        # cost a second LinkedIn action for the same page.
        return salvaged.group(1)
    if not isinstance(task_id, str) or not _is_text(task_id):
        raise RetriableError(f"HTTP {response.status_code} without 'api_agent_task_id'")
    return task_id


def _read_status(response: requests.Response) -> TaskAnswer:
    data = _json_object(response).get("data")
    if not (isinstance(data, dict) and _is_text(data.get("status"))):
        raise RetriableError(f"HTTP {response.status_code} without 'data.status'")
    said = " ".join(data["status"].split()).lower()[:40]
    # The one place OutX's status strings become a TaskStatus.
    return TaskAnswer(status_of(said), said, data.get("task_output"))


def _network_error(exc: requests.RequestException) -> RetriableError:
    """A transport failure as a retriable error saying whether the request got through."""
    if isinstance(exc, requests.exceptions.SSLError):
        # The handshake failed, so no request was sent (a certificate or proxy problem).
        reason = "TLS error (certificate or handshake; nothing was sent)"
        return RetriableError(reason, may_have_reached_server=False)
    if isinstance(exc, DeadlineExceeded):
        return RetriableError(str(exc))
    if isinstance(exc, requests.ConnectTimeout):
        return RetriableError("connection timed out")
    if isinstance(exc, requests.ReadTimeout):
        return RetriableError("read timed out")
    causes = tuple(type(cause) for cause in _causes(exc))
    if any(issubclass(cause, ConnectionRefusedError) for cause in causes):
        return RetriableError("connection refused", may_have_reached_server=False)
    if any(issubclass(cause, _RESETS) for cause in causes):
        return RetriableError("connection reset")
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return RetriableError("answer cut short")
    return RetriableError("network error")


#: Low-level errors of a connection closed under a request (a reset, an abort).
_RESETS = (ConnectionResetError, ConnectionAbortedError, http.client.RemoteDisconnected)


def _causes(exc: BaseException) -> t.Iterator[BaseException]:
    """The exception and those it wraps: requests and urllib3 nest them in args and reason."""
    pending: list[object] = [exc]
    seen: set[int] = set()
    while pending:
        cause = pending.pop()
        if not isinstance(cause, BaseException) or id(cause) in seen:
            continue
        seen.add(id(cause))
        yield cause
        pending.extend((cause.__cause__, cause.__context__, getattr(cause, "reason", None)))
        pending.extend(cause.args)


def _error_text(response: requests.Response) -> str:
    """The service's ``error`` string, cut to one short line; empty if none."""
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, str):
        return ""
    return " ".join(error.split())[:200]


def _answer_text(response: requests.Response) -> str:
    """An answer in a few words: ``HTTP 404 'Not found'``, ``HTTP 404 with an HTML page``."""
    error = _error_text(response)
    said = f" '{error}'" if error else _error_suffix(response)
    return f"HTTP {response.status_code}{said}"


def _error_suffix(response: requests.Response) -> str:
    text = _error_text(response)
    if text:
        return f": {text}"
    if not response.content:
        return " with an empty body"
    if "html" in response.headers.get("Content-Type", ""):
        return " with an HTML page"
    return ""


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL: no user, password, path or query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address
    try:
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:  # not a port number: the host alone says enough
        port = ""
    return f"{parts.scheme}://{host}{port}"


def _shown(url: str) -> str:
    """A URL as it may be shown: its path kept (it may be what is wrong), no password."""
    parts = urlsplit(url)
    return _origin(url) + parts.path


def _fatal_error(code: int, error: str, endpoint: Endpoint, settings: SettingNames) -> OutXError:
    said = f" ({error})" if error else ""
    if code == 401:
        return ApiKeyRejected(
            f"OutX rejected the API key (HTTP 401{said}): set a valid team key in "
            f"{settings.api_key}"
        )
    if code == 403:
        return ExtensionInactive(
            f"OutX cannot run tasks (HTTP 403{said}): no team member's OutX Chrome "
            "extension has been active in the last 48 hours; open Chrome with the OutX "
            "extension on the LinkedIn account, then run again"
        )
    if code == 400:
        field = next((f for f in ("keyword", "sort_type", "start", "count") if f in error), "")
        hint = f": check the '{field}' setting" if field in ("keyword", "sort_type") else ""
        return RequestRejected(
            f"OutX rejected a request while {endpoint.doing} (HTTP 400{said}){hint}"
        )
    return OutXError(f"OutX answered HTTP {code} while {endpoint.doing}{said}")
