"""Write docs/slowest-tests.md from a pytest log: the slowest tests that ``--durations=25`` lists at
the end of a run (pyproject's addopts sets it), with the date, this machine's CPU and the run's
total time. Run it on the machine that ran the tests (the CPU is read from its /proc/cpuinfo).

Example::

    .venv/bin/python -m pytest 2>&1 | tee /tmp/pytest.log
    python scripts/slowest_tests.py /tmp/pytest.log                 # writes docs/slowest-tests.md
    python scripts/slowest_tests.py /tmp/pytest.log --out -         # prints it instead
"""

from __future__ import annotations

import argparse
import datetime
import re
import sys
from dataclasses import dataclass
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "slowest-tests.md"

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# "==== slowest 25 durations ====" (pytest >= 8; "slowest durations" with --durations=0)
_SECTION = re.compile(r"^=+ slowest (?:\d+ )?durations =+$")
_ROW = re.compile(r"^(\d+(?:\.\d+)?)s (setup|call|teardown)\s+(\S.*)$")
_TOTAL = re.compile(r" in (\d+(?:\.\d+)?)s\b")


@dataclass(frozen=True)
class Duration:
    seconds: float
    phase: str  # "setup", "call" or "teardown"
    test: str  # the test's id as pytest prints it: FILE::NAME[PARAM]


@dataclass(frozen=True)
class Run:
    durations: tuple[Duration, ...]  # as pytest listed them: slowest first
    total_s: float | None  # the whole run, from pytest's closing line
    summary: str  # that line: "574 passed, 3 skipped in 822.11s (0:13:42)"


def parse_log(text: str) -> Run:
    """The durations section and the closing summary of a pytest log. Raises ValueError when the
    log has no durations section (pytest ran without ``--durations``)."""
    lines = [_ANSI.sub("", line).rstrip() for line in text.splitlines()]
    start = next((i for i, line in enumerate(lines) if _SECTION.match(line)), None)
    if start is None:
        raise ValueError("no 'slowest durations' section in the log (run pytest with --durations=25)")
    durations = []
    for line in lines[start + 1:]:
        match = _ROW.match(line)
        if match is None:  # the "(N durations < 0.005s hidden ...)" note, a blank line or the next section
            break
        durations.append(Duration(float(match.group(1)), match.group(2), match.group(3).strip()))
    # pytest's closing line (what a wrapper printed after it is passed over)
    summary = next((line.strip(" =") for line in reversed(lines) if _TOTAL.search(line)),
                   next((line.strip(" =") for line in reversed(lines) if line.strip()), ""))
    total = _TOTAL.search(summary)
    return Run(tuple(durations), float(total.group(1)) if total else None, summary)


def cpu_model(cpuinfo: str) -> str:
    """The first "model name" of a /proc/cpuinfo text, or "unknown CPU"."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            return " ".join(value.split())
    return "unknown CPU"


def render(run: Run, *, date: str, cpu: str, log_name: str) -> str:
    """docs/slowest-tests.md: a header line, then the table."""
    total = f"{run.total_s:.1f} s" if run.total_s is not None else "an unknown time"
    out = [
        "# The slowest tests",
        "",
        f"Measured {date} on {cpu}; the whole run took {total} (`{run.summary}`).",
        "",
        f"The {len(run.durations)} slowest test phases from pytest's `--durations=25` (pyproject's addopts), "
        f"written by `python scripts/slowest_tests.py {log_name}`.",
        "",
        "| # | seconds | phase | test |",
        "|---:|---:|---|---|",
    ]
    out += [f"| {n} | {d.seconds:.2f} | {d.phase} | `{d.test}` |" for n, d in enumerate(run.durations, 1)]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log", type=Path, help="a pytest log holding the 'slowest 25 durations' section")
    parser.add_argument("--out", default=str(DOC), help="where to write the table ('-': print it)")
    parser.add_argument("--date", default=datetime.date.today().isoformat(), help="the run's date (default: today)")
    parser.add_argument("--cpuinfo", type=Path, default=Path("/proc/cpuinfo"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        run = parse_log(args.log.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError) as exc:
        print(f"error: {args.log}: {exc}", file=sys.stderr)
        return 2
    try:
        cpu = cpu_model(args.cpuinfo.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        cpu = "unknown CPU"
    text = render(run, date=args.date, cpu=cpu, log_name=args.log.name)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}: {len(run.durations)} tests", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
