"""The certification report: per backend and capability passed / failed / not declared, the interop
matrix, and a verdict. Rendered as a terminal table, JSON, Markdown or HTML.

Certification rule: a backend is certified when no test of a capability it declares failed. A test of an
undeclared capability is "not declared" (not run, not a failure). Cross-backend interop cells are shown in
the matrix; they are credited to a backend only when its peer is itself or the ``openssl`` binary (the
reference), so a broken backend cannot fail another one's certification.
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

PASSED, FAILED, NOT_DECLARED, SKIPPED, NO_TESTS = "passed", "failed", "not declared", "skipped", "no tests"


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


@dataclass
class Report:
    backends: list[BackendVerdict]
    results: list[CaseResult]
    duration: float
    environment: dict[str, str] = field(default_factory=dict)

    # -- derived ------------------------------------------------------------------------------------------

    @property
    def interop_failed(self) -> bool:
        return any(r.interop and r.outcome == FAILED for r in self.results)

    @property
    def ok(self) -> bool:
        """Every backend certified and every interop cell that ran passed."""
        return all(b.certified for b in self.backends) and not self.interop_failed

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
        clients, servers, cells = self.matrix()
        data["interop_matrix"] = {
            "clients": clients, "servers": servers,
            "cells": [{"client": c, "server": s, **dict(counts)} for (c, s), counts in cells.items()],
        }
        return json.dumps(data, indent=2)

    def to_text(self) -> str:
        lines: list[str] = []
        for verdict in self.backends:
            lines.append(f"backend {verdict.name} {verdict.version}: {verdict.description}")
            rows: list[tuple[str, ...]] = [("capability", "status", "passed", "failed", "not declared", "skipped")]
            rows += [(r.capability, r.status.upper() if r.status == FAILED else r.status, str(r.passed),
                      str(r.failed), str(r.not_declared), str(r.skipped)) for r in verdict.capabilities]
            widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
            for index, row in enumerate(rows):
                lines.append("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
                if index == 0:
                    lines.append("  " + "  ".join("-" * w for w in widths))
            lines.append(f"  verdict: {_verdict_text(verdict)}")
            lines.append("")
        clients, servers, cells = self.matrix()
        if cells:
            lines.append("interop matrix (rows: client, columns: server; passed/run, n = not declared)")
            header = ["client \\ server", *servers]
            grid: list[list[str]] = [header, *([c, *(_cell_text(cells.get((c, s))) for s in servers)]
                                               for c in clients)]
            widths = [max(len(row[i]) for row in grid) for i in range(len(header))]
            for grid_row in grid:
                lines.append("  " + "  ".join(c.ljust(widths[i]) for i, c in enumerate(grid_row)).rstrip())
            lines.append("")
        failures = self.failures()
        if failures:
            lines.append(f"failures ({len(failures)}):")
            for result in failures:
                lines.append(f"  {result.nodeid}")
                lines.append(f"      {result.message.splitlines()[0] if result.message else ''}"[:200])
            lines.append("")
        lines.append(f"overall: {'PASS' if self.ok else 'FAIL'} in {self.duration:.1f} s")
        return "\n".join(lines)

    def to_markdown(self) -> str:
        out = ["# tlsapi conformance report", ""]
        out.append(f"Overall: **{'PASS' if self.ok else 'FAIL'}** ({self.duration:.1f} s; "
                   + ", ".join(f"{k} {v}" for k, v in self.environment.items()) + ")")
        out.append("")
        for verdict in self.backends:
            out += [f"## {verdict.name} {verdict.version}", "", verdict.description, "",
                    f"**Verdict:** {_verdict_text(verdict)}", "",
                    "| capability | status | passed | failed | not declared | skipped |",
                    "|---|---|---:|---:|---:|---:|"]
            out += [f"| {r.capability} | {_md_status(r.status)} | {r.passed} | {r.failed} | {r.not_declared} "
                    f"| {r.skipped} |" for r in verdict.capabilities]
            out.append("")
        clients, servers, cells = self.matrix()
        if cells:
            out += ["## Interop matrix", "", "Rows: client, columns: server; passed/run.", "",
                    "| client \\ server | " + " | ".join(servers) + " |",
                    "|---|" + "---|" * len(servers)]
            out += [f"| {c} | " + " | ".join(_cell_text(cells.get((c, s))) for s in servers) + " |"
                    for c in clients]
            out.append("")
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
                 f"<h1>tlsapi conformance report: {'PASS' if self.ok else 'FAIL'}</h1>",
                 f"<p>{self.duration:.1f} s; " + esc(", ".join(f"{k} {v}" for k, v in self.environment.items()))
                 + "</p>"]
        for verdict in self.backends:
            parts.append(f"<h2>{esc(verdict.name)} {esc(verdict.version)}</h2><p>{esc(verdict.description)}</p>")
            parts.append(f"<p><b>Verdict:</b> {esc(_verdict_text(verdict))}</p><table><tr><th>capability</th>"
                         "<th>status</th><th>passed</th><th>failed</th><th>not declared</th><th>skipped</th></tr>")
            for r in verdict.capabilities:
                parts.append(f"<tr style='background:{colour.get(r.status, '#fff')}'><td>{esc(r.capability)}</td>"
                             f"<td>{esc(r.status)}</td><td>{r.passed}</td><td>{r.failed}</td>"
                             f"<td>{r.not_declared}</td><td>{r.skipped}</td></tr>")
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


def _verdict_text(verdict: BackendVerdict) -> str:
    head = "CERTIFIED" if verdict.certified else "NOT CERTIFIED"
    text = f"{head}; certified for: {', '.join(verdict.certified_for) or 'nothing'}"
    if verdict.failed_capabilities:
        text += f"; failed: {', '.join(verdict.failed_capabilities)}"
    return text


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


def build_report(backends: Sequence[Backend], results: list[CaseResult], duration: float) -> Report:
    """Aggregate case results into per-backend capability rows and verdicts."""
    from tlsapi import Capability

    verdicts = []
    for backend in backends:
        declared = backend.capabilities()
        rows = []
        for capability in Capability:
            mine = [r for r in results if r.backend == backend.name and capability.value in r.capabilities]
            counts = Counter(r.outcome for r in mine)
            row = CapabilityRow(capability.value, "", counts[PASSED], counts[FAILED], counts[NOT_DECLARED],
                                counts[SKIPPED])
            if capability not in declared:
                row.status = NOT_DECLARED
            elif row.failed:
                row.status = FAILED
            elif row.passed:
                row.status = PASSED
            else:
                row.status = NO_TESTS if not mine else SKIPPED
            rows.append(row)
        failed = [r.capability for r in rows if r.status == FAILED]
        verdicts.append(BackendVerdict(
            name=backend.name, version=backend.version, description=backend.description,
            declared=[c.value for c in Capability if c in declared], capabilities=rows,
            certified=not failed and any(r.status == PASSED for r in rows),
            certified_for=[r.capability for r in rows if r.status == PASSED], failed_capabilities=failed,
        ))
    from .interop import openssl_version

    version = openssl_version()
    environment = {
        "python": platform.python_version(),
        "ssl": ssl.OPENSSL_VERSION,
        "openssl peer": ".".join(map(str, version)) if version else "absent",
    }
    return Report(verdicts, results, round(duration, 2), environment)
