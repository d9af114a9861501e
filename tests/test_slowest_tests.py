"""scripts/slowest_tests.py: pytest's --durations section and closing line into docs' table."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "slowest_tests.py"

LOG = """\
============================= test session starts ==============================
platform linux -- Python 3.11.9, pytest-9.2.0, pluggy-1.6.0
collected 6 items

tests/test_a.py ....                                                     [ 66%]
tests/test_b.py .s                                                       [100%]

============================= slowest 25 durations =============================
41.27s call     tests/test_b.py::test_answers_from_an_indexed_folder[hybrid]
12.50s setup    tests/test_b.py::test_loads
0.31s teardown tests/test_a.py::test_server
0.02s call     tests/test_a.py::test_one

(8 durations < 0.005s hidden.  Use -vv to show these durations.)
=========================== short test summary info ============================
SKIPPED [1] tests/test_b.py:12: llama_cpp not installed
=================== 5 passed, 1 skipped in 58.63s (0:00:58) ====================
"""

CPUINFO = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC  9B14 96-Core Processor\n\nprocessor\t: 1\n"


@pytest.fixture(scope="module")
def slowest():
    spec = importlib.util.spec_from_file_location("slowest_tests", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while they are made
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def test_the_durations_and_the_total_are_read_from_the_log(slowest):
    run = slowest.parse_log(LOG)
    assert [(d.seconds, d.phase, d.test) for d in run.durations] == [
        (41.27, "call", "tests/test_b.py::test_answers_from_an_indexed_folder[hybrid]"),
        (12.5, "setup", "tests/test_b.py::test_loads"),
        (0.31, "teardown", "tests/test_a.py::test_server"),
        (0.02, "call", "tests/test_a.py::test_one"),
    ]
    assert run.total_s == 58.63 and run.summary == "5 passed, 1 skipped in 58.63s (0:00:58)"
    # A coloured terminal's log reads the same.
    coloured = LOG.replace("41.27s call", "\x1b[32m41.27s call\x1b[0m").replace("5 passed", "\x1b[32m5 passed\x1b[0m")
    assert slowest.parse_log(coloured) == run


def test_a_log_without_the_section_is_refused(slowest):
    with pytest.raises(ValueError, match="--durations"):
        slowest.parse_log("collected 1 item\n\n1 passed in 0.50s\n")


def test_the_cpu_is_the_first_model_name(slowest):
    assert slowest.cpu_model(CPUINFO) == "AMD EPYC 9B14 96-Core Processor"
    assert slowest.cpu_model("processor\t: 0\n") == "unknown CPU"


def test_the_script_writes_the_table_with_its_header(slowest, tmp_path, capsys):
    log, cpuinfo, out = tmp_path / "pytest.log", tmp_path / "cpuinfo", tmp_path / "slowest-tests.md"
    log.write_text(LOG)
    cpuinfo.write_text(CPUINFO)
    assert slowest.main([str(log), "--out", str(out), "--date", "2026-12-07", "--cpuinfo", str(cpuinfo)]) == 0
    lines = out.read_text().splitlines()
    assert ("Measured 2026-12-07 on AMD EPYC 9B14 96-Core Processor; the whole run took 58.6 s "
            "(`5 passed, 1 skipped in 58.63s (0:00:58)`).") in lines
    table = lines[lines.index("| # | seconds | phase | test |"):]
    assert table[2:] == [
        "| 1 | 41.27 | call | `tests/test_b.py::test_answers_from_an_indexed_folder[hybrid]` |",
        "| 2 | 12.50 | setup | `tests/test_b.py::test_loads` |",
        "| 3 | 0.31 | teardown | `tests/test_a.py::test_server` |",
        "| 4 | 0.02 | call | `tests/test_a.py::test_one` |",
    ]
    log.write_text("1 passed in 0.50s\n")
    assert slowest.main([str(log), "--out", str(out)]) == 2
    assert "no 'slowest durations' section" in capsys.readouterr().err
