"""``tlsapi-conformance [BACKEND ...] [--report FILE] [-- PYTEST_ARGS]``: certify backends.

Exit status: 0 when no case failed (the verdicts say CERTIFIED, or PARTIAL for a ``-k`` / ``-x`` run), 1
when a case failed, 2 on a usage error (unknown or unavailable backend, pytest not installed).
"""

from __future__ import annotations

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tlsapi-conformance",
        description="Run the tlsapi conformance suite against installed backends and print a certification "
                    "table (capability by capability) and the interop matrix.",
    )
    parser.add_argument("backends", nargs="*", metavar="BACKEND",
                        help="entry-point name or module:attr spec (default: every installed backend)")
    parser.add_argument("--report", action="append", default=[], metavar="FILE",
                        help="also write the report to FILE (.json, .md, .html; repeatable)")
    parser.add_argument("--no-peers", action="store_true",
                        help="interop matrix: only the named backends (and openssl), not every installed one")
    parser.add_argument("-k", dest="keyword", metavar="EXPR", help="only cases matching EXPR (pytest -k)")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per case")
    parser.add_argument("-x", "--exitfirst", action="store_true", help="stop at the first failure")
    parser.add_argument("--list", action="store_true", help="list installed backends and exit")
    parser.epilog = "Arguments after -- are passed to pytest."
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``tlsapi-conformance`` and ``tlsapi conformance``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = _parser().parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    import tlsapi

    from . import MissingRequirementError, require_runner, resolve_backends, run

    if args.list:
        for backend in tlsapi.backends():
            state = "available" if backend.is_available() else f"unavailable: {backend.unavailable_reason}"
            caps = ", ".join(sorted(c.value for c in backend.capabilities()))
            print(f"{backend.name} {backend.version} ({state}): {caps}")
        return 0
    try:
        backends = resolve_backends(args.backends or None)
    except (LookupError, ImportError, TypeError, AttributeError) as exc:
        print(f"tlsapi-conformance: {exc}", file=sys.stderr)
        return 2
    if not backends:
        print("tlsapi-conformance: no available tlsapi backend is installed", file=sys.stderr)
        return 2
    try:
        require_runner()
    except MissingRequirementError as exc:
        print(f"tlsapi-conformance: {exc}", file=sys.stderr)
        return 2
    print("certifying: " + ", ".join(f"{b.name} {b.version}" for b in backends), flush=True)
    if not args.backends:  # an installed backend that cannot run here is skipped, with the reason
        for backend in tlsapi.backends():
            if not backend.is_available():
                print(f"skipping {backend.name}: unavailable: {backend.unavailable_reason}", flush=True)
    extra += ["-v"] if args.verbose else ["-q"]
    if args.keyword:
        extra += ["-k", args.keyword]
    if args.exitfirst:
        extra.append("-x")
    code, report = run(backends, reports=args.report, pytest_args=extra, installed_peers=not args.no_peers)
    if report is None:  # pytest stopped before the session finished (usage error, interrupted)
        return code or 2
    return 0 if report.ok and code in (0, 5) else 1


if __name__ == "__main__":
    raise SystemExit(main())
