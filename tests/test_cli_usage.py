"""Usage errors of the installed ``foldrag`` command: one ``Error:`` line and a ``Try`` line on
stderr, exit 2, never a traceback; a bare ``foldrag`` is the help and exit 0."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FOLDRAG = shutil.which("foldrag", path=str(Path(sys.executable).parent)) or shutil.which("foldrag")


def _run(*args: str) -> subprocess.CompletedProcess:
    if FOLDRAG is None:
        pytest.skip("the foldrag command is not installed beside this Python")
    env = dict(os.environ, COLUMNS="100")
    return subprocess.run([FOLDRAG, *args], capture_output=True, text=True, env=env, timeout=120,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("args, command, message", [
    (("ask", "x", "--no-such-option"), "foldrag ask", "No such option: --no-such-option"),
    (("ask",), "foldrag ask", "Missing argument 'QUESTION'"),
    (("search", "x", "-k", "abc"), "foldrag search", "Invalid value for '-k'"),
    (("search", "x", "--mode", "nonsense"), None, None),
    (("bogus",), "foldrag", "No such command 'bogus'"),
])
def test_a_usage_error_is_one_error_line_and_exit_2(args, command, message):
    done = _run(*args)
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    assert done.returncode == 2, (done.returncode, done.stderr)
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:") or "error:" in line]
    assert len(errors) == 1, done.stderr
    if command is not None:
        assert f"Try '{command} --help' for help." in done.stderr.splitlines()
        assert errors[0] == f"Error: {message}" or errors[0].startswith(f"Error: {message}")


def test_a_bare_foldrag_prints_the_help_and_exits_0():
    done = _run()
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith("Usage: foldrag [OPTIONS] COMMAND")
    commands = done.stdout.split("Commands:\n", 1)[1].splitlines()
    names = [line.split()[0] for line in commands if line.strip()]
    assert names == ["ingest", "search", "ask", "eval", "check", "config", "serve", "mcp"]
    for line in commands:  # each command one clean line: a whole sentence, never cut
        if line.strip():
            assert line.rstrip().endswith((".", ")")) and not line.rstrip().endswith("..."), line
    assert "<bool>" not in done.stdout
    assert "/chat" not in done.stdout
