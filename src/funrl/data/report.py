"""Accounting of `funrl prepare`: the per-source funnel, reason-code histograms, the call/no-call mix (R4), and the
printed table (APIGen Table 1 style, docs/data.md, "`funrl prepare`" outputs).

Every pipeline item is counted exactly once: an input record the reader rejected, or a sample a reader produced
(a multi-turn dialog gives one sample per assistant call step). Each item ends either kept or rejected, so
`input == kept + rejected` holds per source (`PrepareReport.check()` asserts it). Funnel columns are cumulative in
pipeline order: `parsed` (read, and the target's parse rules P*), `schema-ok` (S*), `calls-ok` (C*, R*),
`types-ok` (T*, V*), `dedup-ok` (D*), `judge-ok` (J*), then `repaired` (kept items that validation or the judge
changed) and `kept`.

    report = PrepareReport()
    report.add_rejection("xlam", "validate", ["C4"])
    report.add_kept("xlam", sample, repaired=False)
    report.check(); print_report(report.to_dict())
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from funrl.data.rules_base import RULES

FUNNEL = ("input", "parsed", "schema-ok", "calls-ok", "types-ok", "dedup-ok", "judge-ok", "repaired", "kept")
_FAIL_ORDER = ("parse", "schema", "calls", "types", "dedup", "judge")


def failure_class(stage: str, codes: list[str]) -> str:
    """The funnel class of a rejection: read -> parse, dedup -> dedup, judge -> judge, validate -> by rule ID."""
    if stage == "read":
        return "parse"
    if stage in ("dedup", "judge"):
        return stage
    for code in codes:
        if code in RULES:
            return RULES[code][0]
    return "calls"


@dataclass
class SourceStats:
    """Counters of one source."""

    records: int = 0
    items: int = 0
    kept: int = 0
    repaired: int = 0
    failed: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    repairs: Counter = field(default_factory=Counter)
    warnings: Counter = field(default_factory=Counter)
    kinds: Counter = field(default_factory=Counter)
    categories: Counter = field(default_factory=Counter)

    @property
    def rejected(self) -> int:
        return sum(self.failed.values())

    def funnel(self) -> dict[str, int]:
        out = {"input": self.items}
        left = self.items
        for name, cls in zip(FUNNEL[1:7], _FAIL_ORDER):
            left -= self.failed.get(cls, 0)
            out[name] = left
        out["repaired"] = self.repaired
        out["kept"] = self.kept
        return out


class PrepareReport:
    """Collects the counters of a `funrl prepare` run (see the module docstring).

    Args:
        target_no_call_ratio (`float`, *optional*): R4 target share of no-call samples among kept ones.
        tolerance (`float`, *optional*, defaults to `0.05`): R4 allowed distance from the target before a warning.
    """

    def __init__(self, target_no_call_ratio: float | None = None, tolerance: float = 0.05):
        self.sources: dict[str, SourceStats] = {}
        self.target_no_call_ratio = target_no_call_ratio
        self.tolerance = tolerance

    def _get(self, source: str) -> SourceStats:
        if source not in self.sources:
            self.sources[source] = SourceStats()
        return self.sources[source]

    def add_record(self, source: str, n_samples: int) -> None:
        """One input record read (`n_samples` items, or 1 item when the reader rejected it: pass 1)."""
        stats = self._get(source)
        stats.records += 1
        stats.items += n_samples

    def add_rejection(self, source: str, stage: str, codes: list[str]) -> None:
        stats = self._get(source)
        stats.failed[failure_class(stage, codes)] += 1
        for code in dict.fromkeys(codes):
            stats.reasons[code] += 1

    def add_kept(self, source: str, sample: Any, repaired: bool) -> None:
        """A kept sample; `repaired` when validation or the judge changed it (a reader's format conversion,
        such as xLAM's per-parameter dict -> JSON Schema, shows in the repairs histogram only)."""
        stats = self._get(source)
        stats.kept += 1
        audit = sample.meta.get("audit") or []
        if repaired:
            stats.repaired += 1
        for entry in audit:
            rule = str(entry.get("rule"))
            if entry.get("action") == "repair":
                stats.repairs[rule] += 1
            elif entry.get("action") == "warn":
                stats.warnings[rule] += 1
        stats.kinds["no_call" if not sample.ground_truth else "call"] += 1
        stats.categories[sample.category] += 1

    def check(self) -> None:
        """Assert the accounting identity `input == kept + rejected` for every source."""
        for name, stats in self.sources.items():
            assert stats.items == stats.kept + stats.rejected, (
                f"accounting broken for source {name!r}: input {stats.items} != kept {stats.kept} + "
                f"rejected {stats.rejected}"
            )

    def _mix(self, stats: SourceStats) -> dict[str, Any]:
        kept = max(stats.kept, 1)
        ratio = stats.kinds.get("no_call", 0) / kept
        out: dict[str, Any] = {
            "call": stats.kinds.get("call", 0),
            "no_call": stats.kinds.get("no_call", 0),
            "no_call_ratio": round(ratio, 4),
            "target_no_call_ratio": self.target_no_call_ratio,
            "warning": None,
        }
        if self.target_no_call_ratio is not None and abs(ratio - self.target_no_call_ratio) > self.tolerance:
            out["warning"] = (
                f"R4: no-call share {ratio:.3f} is off the target {self.target_no_call_ratio:.3f} "
                f"by more than {self.tolerance}"
            )
        return out

    def _source_dict(self, stats: SourceStats) -> dict[str, Any]:
        return {
            "records": stats.records,
            "funnel": stats.funnel(),
            "rejected": stats.rejected,
            "failed": dict(sorted(stats.failed.items())),
            "reasons": dict(sorted(stats.reasons.items())),
            "repairs": dict(sorted(stats.repairs.items())),
            "warnings": dict(sorted(stats.warnings.items())),
            "categories": dict(sorted(stats.categories.items())),
            "mix": self._mix(stats),
        }

    def totals(self) -> SourceStats:
        total = SourceStats()
        for stats in self.sources.values():
            total.records += stats.records
            total.items += stats.items
            total.kept += stats.kept
            total.repaired += stats.repaired
            for name in ("failed", "reasons", "repairs", "warnings", "kinds", "categories"):
                getattr(total, name).update(getattr(stats, name))
        return total

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report: per source and `total` (no timings, so a re-run gives the same bytes)."""
        out = {name: self._source_dict(stats) for name, stats in sorted(self.sources.items())}
        return {"sources": out, "total": self._source_dict(self.totals())}


def build_report(
    records: Counter,
    kept: list[tuple[Any, bool]],
    rejected: list[tuple[str, str, list[str]]],
    target_no_call_ratio: float | None = None,
) -> PrepareReport:
    """The report of a run, built once at the end from what the stages returned.

    Args:
        records: input records read per source.
        kept: `(sample, repaired)` of every kept sample.
        rejected: `(source, stage, codes)` of every rejection.
        target_no_call_ratio: R4 target share of no-call samples.
    """
    report = PrepareReport(target_no_call_ratio)
    for source, n in records.items():
        report._get(source).records += n
    for source, stage, codes in rejected:
        report._get(source).items += 1
        report.add_rejection(source, stage, codes)
    for sample, repaired in kept:
        report._get(sample.source).items += 1
        report.add_kept(sample.source, sample, repaired)
    report.check()
    return report


def print_report(report: dict[str, Any], console: Any = None) -> None:
    """Print the funnel table and the reason-code histogram of a `PrepareReport.to_dict()` with rich."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    rows = [*report["sources"].items(), ("total", report["total"])]
    # one column per source: nine funnel stages fit any terminal width this way round
    table = Table(title="funrl prepare: funnel (items = rejected input records + samples)")
    table.add_column("stage")
    for name, _ in rows:
        table.add_column(name, justify="right", style="bold" if name == "total" else None)
    for stage in FUNNEL:
        table.add_row(stage, *(str(data["funnel"][stage]) for _, data in rows))
    console.print(table)
    hist = Table(title="reason codes (rejections; repairs and warnings on kept samples)")
    for column in ("source", "code", "rejected", "repaired", "warned", "rule"):
        hist.add_column(column, justify="right" if column in ("rejected", "repaired", "warned") else "left")
    for name, data in rows if len(rows) > 2 else rows[:1]:  # a single source: its rows are the totals
        codes = sorted(set(data["reasons"]) | set(data["repairs"]) | set(data["warnings"]))
        for code in codes:
            rule = RULES.get(code.split(":")[0], ("", ""))[1]
            hist.add_row(
                name,
                code,
                str(data["reasons"].get(code, "")),
                str(data["repairs"].get(code, "")),
                str(data["warnings"].get(code, "")),
                rule,
            )
    console.print(hist)
    for name, data in rows:
        if data["mix"]["warning"]:
            console.print(f"[yellow]{name}: {data['mix']['warning']}[/yellow]")
