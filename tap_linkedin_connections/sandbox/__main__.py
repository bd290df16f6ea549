"""Run the sandbox from the command line: ``python -m tap_linkedin_connections.sandbox``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from tap_linkedin_connections.sandbox.profiles import PROFILE_SHAPES
from tap_linkedin_connections.sandbox.server import (
    DEFAULT_API_KEY,
    FAULT_ENDPOINTS,
    FAULT_KINDS,
    RESULT_SHAPES,
    Sandbox,
)


def _fault(text: str) -> tuple[str, float]:
    kind, _, probability = text.partition("=")
    if kind not in FAULT_KINDS:
        raise argparse.ArgumentTypeError(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
    try:
        return kind, float(probability)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not KIND=PROBABILITY") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tap-linkedin-connections-sandbox",
        description=(
            "A local stand-in for OutX's LinkedIn Data API (fetch-connections, fetch-profile)."
        ),
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="loopback address to bind (default %(default)s)")
    add("--port", type=int, default=8765, help="0 picks a free port (default %(default)s)")
    add("--api-key", default=DEFAULT_API_KEY, help="key clients must send (default %(default)s)")
    add("--connections", type=int, default=1234, help="number of connections (%(default)s)")
    add("--seed", type=int, default=7, help="seed for data and faults (%(default)s)")
    add("--pickup-delay", type=float, default=0.2, help="seconds (default %(default)s)")
    add("--work-time", type=float, default=0.3, help="seconds per task (default %(default)s)")
    add("--work-time-jitter", type=float, default=0.0, help="fraction, 0..1 (%(default)s)")
    add("--result-shape", choices=RESULT_SHAPES, default="object")
    add(
        "--profile-shape",
        choices=PROFILE_SHAPES,
        default="flat",
        help="fetch-profile results: the docs' flat object or task_output.profile (%(default)s)",
    )
    add("--extension-inactive", action="store_true", help="answer creates with 403")
    add(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="KIND=PROB",
        help=f"inject a fault; repeatable. Kinds: {', '.join(FAULT_KINDS)}",
    )
    add(
        "--fault-endpoint",
        choices=FAULT_ENDPOINTS,
        action="append",
        help="limit faults to this endpoint; repeatable (default: both)",
    )
    add("--retry-after", type=float, default=0.01, help="Retry-After of 429s (%(default)s)")
    add("--hang-seconds", type=float, default=2.0, help="read_timeout hang (%(default)s)")
    add("--slow-factor", type=float, default=5.0, help="task_slow multiplier (%(default)s)")
    add("--log-requests", action="store_true", help="log each request to stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        sandbox = Sandbox(
            connections=args.connections,
            seed=args.seed,
            api_key=args.api_key,
            pickup_delay=args.pickup_delay,
            work_time=args.work_time,
            work_time_jitter=args.work_time_jitter,
            result_shape=args.result_shape,
            profile_shape=args.profile_shape,
            extension_active=not args.extension_inactive,
            faults=dict(args.fault),
            fault_endpoints=args.fault_endpoint or FAULT_ENDPOINTS,
            retry_after=args.retry_after,
            hang_seconds=args.hang_seconds,
            slow_factor=args.slow_factor,
            host=args.host,
            port=args.port,
            log_requests=args.log_requests,
        )
    except ValueError as error:
        parser.error(str(error))
    stop_requested = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stop_requested.set())
    try:
        sandbox.start()
    except OSError as error:  # e.g. the port is taken
        print(f"cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    print(
        f"OutX sandbox listening on {sandbox.url} "
        f'({args.connections} connections, api key "{args.api_key}")',
        flush=True,
    )
    stop_requested.wait()
    sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
