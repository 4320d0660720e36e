"""A paper's headline claims as checkable statements, and the verdict the run records give on each.

Each published file lists its claims (``claims``): ``order`` (rows ranked by a metric in the given order) or
``better`` (one row better than each of others by a metric, in the metric's direction). A row is named by its
system and, where the claim is about settings, the settings its config must have. On each of the paper's datasets
and stand-ins with records, the verdict is "reproduced" or "not reproduced", computed from the mean over seeds,
with the values, seed counts and whether the runs converged; "not testable here" when a named row has no record.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sedbench.publish.summary import LOWER_IS_BETTER, Row, digits

REPRODUCED, NOT_REPRODUCED, NOT_TESTABLE = "reproduced", "not reproduced", "not testable here"


@dataclass
class Verdict:
    paper: str
    claim: dict
    verdict: str
    dataset: str | None  # where it was tested; None: nowhere
    stand_in: bool = False
    evidence: str = ""  # the measured values behind the verdict
    unconverged: list[str] = field(default_factory=list)  # rows with runs that stopped at their epoch budget
    data_version: str = ""  # the dataset fingerprint, named when the records hold several versions of the dataset

    def text(self) -> str:
        notes = ["stand-in data"] * self.stand_in + [f"data {self.data_version[:8]}"] * bool(self.data_version)
        where = f" on {self.dataset}" + (f" ({', '.join(notes)})" if notes else "") if self.dataset else ""
        text = f"{self.claim['statement']}: **{self.verdict}**{where}"
        if self.evidence:
            text += f" — {self.evidence}"
        if self.unconverged:
            text += (f". ⚠ {', '.join(self.unconverged)} stopped at their epoch budget in some runs: the verdict is "
                     "on unconverged models")
        return text + "."


def _value(value) -> str:
    if isinstance(value, (list, tuple)):
        return "(" + ",".join(_value(v) for v in value) + ")"
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return str(value)


def _matches(row: Row, selector: dict) -> bool:
    return row.system == selector["system"] and all(
        key in row.config and _value(row.config[key]) == _value(value)
        for key, value in selector.get("config", {}).items())


def _describe(selector: dict) -> str:
    settings = ", ".join(f"{k}={_value(v)}" for k, v in selector.get("config", {}).items())
    return selector["system"] + (f" ({settings})" if settings else "")


def _pick(rows: list[Row], selector: dict) -> Row | None:
    """The row a selector names on one dataset: the one with the most seeds when several match."""
    matching = [row for row in rows if _matches(row, selector)]
    return max(matching, key=lambda row: len(row.seeds)) if matching else None


def _better(a: float, b: float, metric: str) -> bool:
    return a < b if metric in LOWER_IS_BETTER else a > b


def _verdict_on(rows: list[Row], claim: dict) -> tuple[str, str, list[str]] | None:
    """(verdict, evidence, unconverged rows) of a claim on one dataset's rows; None when a named row is missing."""
    metric = claim["metric"]
    selectors = claim["rows"] if claim["kind"] == "order" else [claim["row"], *claim["than"]]
    picked = [_pick(rows, selector) for selector in selectors]
    if any(row is None or row.mean_std(metric) is None for row in picked):
        return None
    means = [row.mean_std(metric)[0] for row in picked]
    if claim["kind"] == "order":
        holds = all(_better(a, b, metric) for a, b in zip(means, means[1:]))
    else:
        holds = all(_better(means[0], other, metric) for other in means[1:])
    d = digits(metric)
    evidence = f"{metric}: " + ", ".join(f"{_describe(s)} {m:.{d}f} ({len(r.seeds)} seed{'s' * (len(r.seeds) != 1)})"
                                         for s, r, m in zip(selectors, picked, means))
    unconverged = [_describe(s) for s, r in zip(selectors, picked) if r.budget_bound]
    return (REPRODUCED if holds else NOT_REPRODUCED), evidence, unconverged


def claim_verdicts(rows: list[Row], published: dict) -> list[Verdict]:
    """Every claim of a paper, judged on each of its datasets and stand-ins that has records, and on each version of
    that dataset's data separately (rows on other data are not compared)."""
    verdicts = []
    for claim in published.get("claims", []):
        judged = False
        missing = set()
        for key, info in published["datasets"].items():
            for dataset in [key, *info.get("stand_ins", [])]:
                versions = sorted({row.fingerprint for row in rows if row.dataset == dataset})
                for version in versions:
                    members = [row for row in rows if row.dataset == dataset and row.fingerprint == version]
                    result = _verdict_on(members, claim)
                    if result is None:
                        selectors = claim["rows"] if claim["kind"] == "order" else [claim["row"], *claim["than"]]
                        missing |= {_describe(s) for s in selectors if _pick(members, s) is None}
                        continue
                    verdict, evidence, unconverged = result
                    verdicts.append(Verdict(published["paper"], claim, verdict, dataset, dataset != key, evidence,
                                            unconverged, version if len(versions) > 1 else ""))
                    judged = True
        if not judged:
            evidence = f"no records of {', '.join(sorted(missing))}" if missing else "no records on its datasets"
            verdicts.append(Verdict(published["paper"], claim, NOT_TESTABLE, None, evidence=evidence))
    return verdicts


def claims_markdown(verdicts: list[Verdict]) -> str:
    if not verdicts:
        return ""
    return "## Claims\n\n" + "".join(f"- {v.text()}\n" for v in verdicts) + (
        "\nVerdicts compare means over seeds; the tables above give the spread.\n\n")
