"""HTTP to OutX: the key reaches the configured host only, and every request ends in time.

Two guarantees the client relies on, which ``requests`` does not give by itself:

- **No redirect is followed.** ``requests`` follows a redirect to any host and scheme and
  keeps custom headers such as ``x-api-key`` on the way; here a 3xx answer is returned
  as it is, for the client to report (see client.py).
- **A request has a deadline as a whole.** ``requests``' timeout bounds the connection
  and each read, so a server that sends a byte every few seconds holds a request for
  ever. Here a timer shuts the request's socket down when its deadline passes (connect,
  send, headers and body together): the blocked read returns, and the request fails
  with :class:`DeadlineExceeded`, a timeout like any other.

The timer reaches the socket through urllib3's public connection and pool classes: the
session's pools make connections that attach their socket to the deadline of the
request running on their thread, once connected (the TCP connection and a TLS
handshake are bounded by the per-operation timeout; everything after, by the deadline).
tests/unit/test_transport.py fails if a urllib3 release stops calling them.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import typing as t

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

#: How long after its timeout a request is cut. A server silent for the whole timeout
#: then meets the per-read timeout first, whose "read timed out" says more; a server
#: that trickles is cut this much later than the timeout, at most.
DEADLINE_GRACE_SECONDS = 0.1


class DeadlineExceeded(requests.exceptions.Timeout):
    """The request had no complete answer by its deadline."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no complete answer within {seconds:g}s")
        self.seconds = seconds


class _Deadline:
    """Shuts down the sockets attached to it once ``seconds`` have passed."""

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True  # a timer must never keep the process alive

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.cancel()
        with self._lock:
            self._sockets.clear()

    def attach(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if self.expired:
                _shut_down(sock)
            else:
                self._sockets.append(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut_down(sock)


def _shut_down(sock: socket.socket) -> None:
    """End the socket's traffic both ways, so a read blocked on it returns at once.

    The plain socket's method, also for a TLS socket: it acts on the descriptor and
    leaves the TLS object alone while another thread may be reading through it.
    """
    with contextlib.suppress(OSError):  # already closed: nothing left to stop
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


#: The deadline of the request running on each thread, if any.
_running = threading.local()


def _attach(sock: socket.socket | None) -> None:
    deadline: _Deadline | None = getattr(_running, "deadline", None)
    if deadline is not None:
        deadline.attach(sock)


class _BoundedHTTPConnection(HTTPConnection):
    """A connection whose socket is attached to the running request's deadline."""

    def connect(self) -> None:
        super().connect()
        _attach(self.sock)

    def request(self, *args: t.Any, **kwargs: t.Any) -> None:
        _attach(self.sock)  # a kept-alive connection: connect() is not called again
        super().request(*args, **kwargs)


class _BoundedHTTPSConnection(HTTPSConnection):
    """The TLS twin of :class:`_BoundedHTTPConnection` (attached once TLS is set up)."""

    def connect(self) -> None:
        super().connect()
        _attach(self.sock)

    def request(self, *args: t.Any, **kwargs: t.Any) -> None:
        _attach(self.sock)
        super().request(*args, **kwargs)


class _BoundedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _BoundedHTTPConnection


class _BoundedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _BoundedHTTPSConnection


_POOLS = {"http": _BoundedHTTPPool, "https": _BoundedHTTPSPool}


class _BoundedAdapter(HTTPAdapter):
    """An adapter whose pools (direct, or through an HTTP proxy) make bounded connections."""

    def init_poolmanager(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: t.Any) -> t.Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is urllib3.ProxyManager:  # a SOCKS proxy has pools of its own
            manager.pool_classes_by_scheme = _POOLS
        return manager


class BoundedSession(requests.Session):
    """A session that follows no redirect and ends each request by a deadline."""

    def __init__(self) -> None:
        super().__init__()
        adapter = _BoundedAdapter()
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        """None: no redirect is followed, whatever a caller asks (the key stays home)."""
        del resp
        return None

    def request_within(
        self, seconds: float, method: str, url: str, **kwargs: t.Any
    ) -> requests.Response:
        """Send a request and read its whole answer within ``seconds`` (and a grace).

        ``seconds`` also bounds the connection and each read, as ``requests``' timeout.
        Raises :class:`DeadlineExceeded` when the deadline cut the request short, and
        what ``requests`` raises otherwise. An answer read whole is returned even if the
        deadline passed while the call was returning.
        """
        deadline = _Deadline(seconds + DEADLINE_GRACE_SECONDS)
        _running.deadline = deadline
        deadline.start()
        try:
            return self.request(method, url, timeout=seconds, allow_redirects=False, **kwargs)
        except requests.Timeout:
            raise  # a connect or read timeout came first: it says which
        except requests.RequestException as exc:
            if deadline.expired:
                raise DeadlineExceeded(seconds) from exc
            raise
        finally:
            deadline.stop()
            _running.deadline = None
