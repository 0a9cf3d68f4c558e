"""The certification report: per backend and capability passed / failed / not declared, the interop
matrix, and a verdict. Rendered as a terminal table, JSON, Markdown or HTML.

Certification rule: a backend is certified when no test of a capability it declares failed, in a complete
run. A run with deselected or unfinished cases (``-k``, ``-x``, an interruption) is PARTIAL, never
CERTIFIED. A test of an undeclared capability is "not declared" (not run, not a failure). Cross-backend
interop cells are shown in the matrix; they are credited to a backend against itself or the ``openssl``
binary (the reference), and a key-exchange group cell also to a backend that cannot force the group itself
(no ``set_groups`` for it) when its peer can.
"""

from __future__ import annotations

import html
import json
import platform
import ssl
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tlsapi import Backend

PASSED, FAILED, NOT_DECLARED, SKIPPED, NO_TESTS = "passed", "failed", "not declared", "skipped", "untested"
CERTIFIED, PARTIAL, NOT_CERTIFIED = "CERTIFIED", "PARTIAL", "NOT CERTIFIED"

#: What every column and cell of the tables means (printed under them).
LEGEND = (
    ("declared", "yes: the backend declares the capability; no: it does not, and must then refuse the "
                 "feature with UnsupportedFeatureError (core checks the refusal)"),
    ("status", "passed: every case that ran passed; FAILED: at least one failed; not declared: not claimed, "
               "its cases were not run; untested: declared, but no case ran (deselected, or an optional API "
               "such as set_groups is missing); skipped: the environment could not run its cases"),
    ("ran", "cases run and credited to this backend (passed + failed); interop cells count against itself, "
            "the openssl binary, or for a group a peer backend that forces it"),
    ("not run", "cases not run because this backend or its interop peer lacks a capability or API they need"),
    ("skipped", "cases the environment could not run (no IPv6, no openssl binary)"),
    ("matrix", "'6/6 n3': 6 of the 6 cells that ran passed and 3 were not run (not declared by one side); "
               "FAIL: a cell failed; -: no cell"),
    ("verdict", "CERTIFIED: complete run, no failure; PARTIAL: cases were deselected or did not run (-k, -x), "
                "nothing is certified; NOT CERTIFIED: a declared capability failed"),
)


@dataclass
class CaseResult:
    nodeid: str
    backend: str | None
    capabilities: list[str]
    outcome: str  # passed | failed | not declared | skipped
    duration: float
    message: str = ""
    interop: dict[str, str] | None = None


@dataclass
class CapabilityRow:
    capability: str
    status: str
    declared: bool = False
    passed: int = 0
    failed: int = 0
    not_declared: int = 0
    skipped: int = 0


@dataclass
class BackendVerdict:
    name: str
    version: str
    description: str
    declared: list[str]
    capabilities: list[CapabilityRow]
    certified: bool
    certified_for: list[str]
    failed_capabilities: list[str]
    verdict: str = NOT_CERTIFIED
    passed_capabilities: list[str] = field(default_factory=list)


@dataclass
class Report:
    backends: list[BackendVerdict]
    results: list[CaseResult]
    duration: float
    environment: dict[str, str] = field(default_factory=dict)
    #: Why the run is partial ("" for a complete run): deselected or unfinished cases.
    partial: str = ""

    # -- derived ------------------------------------------------------------------------------------------

    @property
    def ok(self) -> bool:
        """No case failed and no backend is NOT CERTIFIED (a PARTIAL run without failures is ok, and still
        certifies nothing)."""
        return not self.failures() and all(b.verdict != NOT_CERTIFIED for b in self.backends)

    @property
    def outcome(self) -> str:
        """``PASS``, ``PARTIAL`` (ok, but not every case ran) or ``FAIL``."""
        return "FAIL" if not self.ok else PARTIAL if self.partial else "PASS"

    def matrix(self) -> tuple[list[str], list[str], dict[tuple[str, str], Counter[str]]]:
        """Clients, servers and per-cell outcome counts of the interop matrix."""
        cells: dict[tuple[str, str], Counter[str]] = {}
        clients: list[str] = []
        servers: list[str] = []
        for result in self.results:
            if not result.interop:
                continue
            client, server = result.interop["client"], result.interop["server"]
            if client not in clients:
                clients.append(client)
            if server not in servers:
                servers.append(server)
            cells.setdefault((client, server), Counter())[result.outcome] += 1
        return clients, servers, cells

    def failures(self) -> list[CaseResult]:
        return [r for r in self.results if r.outcome == FAILED]

    # -- renderers ---------------------------------------------------------------------------------------

    def to_json(self) -> str:
        data: dict[str, Any] = asdict(self)
        data["ok"] = self.ok
        data["summary"] = self.summary()
        clients, servers, cells = self.matrix()
        data["interop_matrix"] = {
            "clients": clients, "servers": servers,
            "cells": [{"client": c, "server": s, **dict(counts)} for (c, s), counts in cells.items()],
        }
        return json.dumps(data, indent=2)

    def summary(self) -> str:
        """One line: every backend's verdict, then the run's outcome."""
        verdicts = ", ".join(f"{v.name} {v.verdict}" for v in self.backends)
        cases = Counter(r.outcome for r in self.results)
        counts = ", ".join(f"{cases[k]} {k}" for k in (PASSED, FAILED, NOT_DECLARED, SKIPPED) if cases[k])
        partial = f" [PARTIAL: {self.partial}]" if self.partial else ""
        return f"tlsapi conformance: {verdicts}; {self.outcome} ({counts}) in {self.duration:.1f} s{partial}"

    def to_text(self) -> str:
        """The tables and verdicts first (the first screen), then the matrix, the legend and the failures."""
        lines: list[str] = [self.summary(), ""]
        for verdict in self.backends:
            lines.append(f"backend {verdict.name} {verdict.version}: {verdict.description}")
            lines += ["  " + row for row in _align([_HEADER, *(_row_cells(r) for r in _shown(verdict))])]
            lines.append(f"  verdict: {_verdict_text(verdict, self.partial)}")
            lines.append("")
        clients, servers, cells = self.matrix()
        if cells:
            lines.append("interop matrix (rows: client, columns: server)")
            grid = [["client \\ server", *servers],
                    *([c, *(_cell_text(cells.get((c, s))) for s in servers)] for c in clients)]
            lines += ["  " + row for row in _align(grid, rule=False)]
            lines.append("")
        lines.append("legend:")
        lines += [f"  {name:<9} {text}" for name, text in LEGEND]
        lines.append("")
        failures = self.failures()
        if failures:
            lines.append(f"failures ({len(failures)}):")
            for result in failures:
                lines.append(f"  {result.nodeid}")
                lines.append(f"      {result.message.splitlines()[0] if result.message else ''}"[:200])
            lines.append("")
        lines.append(self.summary())
        return "\n".join(lines)

    def to_markdown(self) -> str:
        out = ["# tlsapi conformance report", ""]
        out.append(f"Overall: **{self.outcome}** ({self.duration:.1f} s; "
                   + ", ".join(f"{k} {v}" for k, v in self.environment.items()) + ")")
        if self.partial:
            out.append(f"\n**PARTIAL run** ({self.partial}): nothing is certified.")
        out.append("")
        for verdict in self.backends:
            out += [f"## {verdict.name} {verdict.version}", "", verdict.description, "",
                    f"**Verdict:** {_verdict_text(verdict, self.partial)}", "",
                    "| " + " | ".join(_HEADER) + " |", "|---|---|---|---:|---:|---:|---:|---:|"]
            for row in _shown(verdict):
                row_cells = _row_cells(row)
                row_cells[2] = _md_status(row.status)
                out.append("| " + " | ".join(row_cells) + " |")
            out.append("")
        clients, servers, cells = self.matrix()
        if cells:
            out += ["## Interop matrix", "", "Rows: client, columns: server; passed/run.", "",
                    "| client \\ server | " + " | ".join(servers) + " |",
                    "|---|" + "---|" * len(servers)]
            out += [f"| {c} | " + " | ".join(_cell_text(cells.get((c, s))) for s in servers) + " |"
                    for c in clients]
            out.append("")
        out += ["## Legend", ""] + [f"- **{name}**: {text}" for name, text in LEGEND] + [""]
        failures = self.failures()
        if failures:
            out += ["## Failures", ""]
            for result in failures:
                first = result.message.splitlines()[0] if result.message else ""
                out.append(f"- `{result.nodeid}`: {first}")
            out.append("")
        return "\n".join(out)

    def to_html(self) -> str:
        esc = html.escape
        colour = {PASSED: "#c8f7c5", FAILED: "#f7c5c5", NOT_DECLARED: "#e8e8e8", SKIPPED: "#fff3c4",
                  NO_TESTS: "#fff3c4"}
        parts = ["<!doctype html><html><head><meta charset='utf-8'><title>tlsapi conformance report</title>",
                 "<style>body{font-family:sans-serif}table{border-collapse:collapse;margin:1em 0}"
                 "td,th{border:1px solid #999;padding:2px 8px}</style></head><body>",
                 f"<h1>tlsapi conformance report: {self.outcome}</h1>",
                 f"<p>{self.duration:.1f} s; " + esc(", ".join(f"{k} {v}" for k, v in self.environment.items()))
                 + "</p>"]
        for verdict in self.backends:
            parts.append(f"<h2>{esc(verdict.name)} {esc(verdict.version)}</h2><p>{esc(verdict.description)}</p>")
            parts.append(f"<p><b>Verdict:</b> {esc(_verdict_text(verdict, self.partial))}</p><table><tr>"
                         + "".join(f"<th>{esc(h)}</th>" for h in _HEADER) + "</tr>")
            for r in _shown(verdict):
                parts.append(f"<tr style='background:{colour.get(r.status, '#fff')}'>"
                             + "".join(f"<td>{esc(c)}</td>" for c in _row_cells(r)) + "</tr>")
            parts.append("</table>")
        clients, servers, cells = self.matrix()
        if cells:
            parts.append("<h2>Interop matrix</h2><table><tr><th>client \\ server</th>"
                         + "".join(f"<th>{esc(s)}</th>" for s in servers) + "</tr>")
            for c in clients:
                parts.append(f"<tr><th>{esc(c)}</th>")
                for s in servers:
                    counts = cells.get((c, s))
                    status = (FAILED if counts and counts[FAILED] else PASSED if counts and counts[PASSED]
                              else NOT_DECLARED)
                    parts.append(f"<td style='background:{colour[status]}'>{esc(_cell_text(counts))}</td>")
                parts.append("</tr>")
            parts.append("</table>")
        parts.append("<h2>Legend</h2><dl>" + "".join(f"<dt>{esc(n)}</dt><dd>{esc(t)}</dd>" for n, t in LEGEND)
                     + "</dl>")
        failures = self.failures()
        if failures:
            parts.append("<h2>Failures</h2><ul>")
            parts += [f"<li><code>{esc(r.nodeid)}</code><pre>{esc(r.message)}</pre></li>" for r in failures]
            parts.append("</ul>")
        parts.append("</body></html>")
        return "\n".join(parts)

    def write(self, path: str | Path) -> None:
        """Write the report; the format follows the suffix (``.json``, ``.md``, ``.html``, else text)."""
        target = Path(path)
        suffix = target.suffix.lower()
        text = {".json": self.to_json, ".md": self.to_markdown, ".markdown": self.to_markdown,
                ".html": self.to_html, ".htm": self.to_html}.get(suffix, self.to_text)()
        target.write_text(text + "\n", encoding="utf-8")


_HEADER = ["capability", "declared", "status", "ran", "passed", "failed", "not run", "skipped"]


def _row_cells(row: CapabilityRow) -> list[str]:
    status = row.status.upper() if row.status == FAILED else row.status
    return [row.capability, "yes" if row.declared else "no", status, str(row.passed + row.failed),
            str(row.passed), str(row.failed), str(row.not_declared), str(row.skipped)]


def _shown(verdict: BackendVerdict) -> list[CapabilityRow]:
    """The rows worth a line: declared, or with cases (an undeclared capability without cases is noise)."""
    return [r for r in verdict.capabilities if r.declared or r.passed or r.failed or r.not_declared or r.skipped]


def _align(rows: Sequence[Sequence[str]], rule: bool = True) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    if rule:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def _verdict_text(verdict: BackendVerdict, partial: str = "") -> str:
    untested = [r.capability for r in verdict.capabilities if r.declared and r.status in (NO_TESTS, SKIPPED)]
    # A declared capability no case exercised is never certified: say so next to the verdict.
    tail = f"; declared but not tested: {', '.join(untested)}" if untested and not partial else ""
    if verdict.verdict == CERTIFIED:
        return f"CERTIFIED; certified for: {', '.join(verdict.certified_for) or 'nothing'}{tail}"
    passed = ", ".join(verdict.passed_capabilities) or "nothing"
    if verdict.verdict == PARTIAL:
        return f"PARTIAL ({partial}): no failure in what ran (passed: {passed}); nothing is certified"
    text = f"NOT CERTIFIED; failed: {', '.join(verdict.failed_capabilities)}; passed: {passed}{tail}"
    return text + (f" (PARTIAL run: {partial})" if partial else "")


def _md_status(status: str) -> str:
    return {PASSED: "✅ passed", FAILED: "❌ **failed**", NOT_DECLARED: "— not declared"}.get(status, status)


def _cell_text(counts: Counter[str] | None) -> str:
    if not counts:
        return "-"
    ran = counts[PASSED] + counts[FAILED]
    text = f"{counts[PASSED]}/{ran}" if ran else "-"
    if counts[FAILED]:
        text += " FAIL"
    if counts[NOT_DECLARED]:
        text += f" n{counts[NOT_DECLARED]}"
    return text


def build_report(
    backends: Sequence[Backend], results: list[CaseResult], duration: float, partial: str = ""
) -> Report:
    """Aggregate case results into per-backend capability rows and verdicts (``partial``: why the run did not
    cover every case, which makes every verdict at best PARTIAL)."""
    from tlsapi import Capability

    verdicts = []
    for backend in backends:
        declared = backend.capabilities()
        rows = []
        for capability in Capability:
            mine = [r for r in results if r.backend == backend.name and capability.value in r.capabilities]
            counts = Counter(r.outcome for r in mine)
            row = CapabilityRow(capability.value, "", capability in declared, counts[PASSED], counts[FAILED],
                                counts[NOT_DECLARED], counts[SKIPPED])
            if capability not in declared:
                row.status = NOT_DECLARED
            elif row.failed:
                row.status = FAILED
            elif row.passed:
                row.status = PASSED
            else:
                row.status = SKIPPED if mine and counts[SKIPPED] == len(mine) else NO_TESTS
            rows.append(row)
        failed = [r.capability for r in rows if r.status == FAILED]
        passed = [r.capability for r in rows if r.status == PASSED]
        certified = not failed and bool(passed) and not partial
        verdicts.append(BackendVerdict(
            name=backend.name, version=backend.version, description=backend.description,
            declared=[c.value for c in Capability if c in declared], capabilities=rows, certified=certified,
            certified_for=passed if certified else [], failed_capabilities=failed,
            verdict=CERTIFIED if certified else NOT_CERTIFIED if failed or not passed else PARTIAL,
            passed_capabilities=passed,
        ))
    from .interop import openssl_version

    version = openssl_version()
    environment = {
        "python": platform.python_version(),
        "ssl": ssl.OPENSSL_VERSION,
        "openssl peer": ".".join(map(str, version)) if version else "absent",
    }
    return Report(verdicts, results, round(duration, 2), environment, partial)
