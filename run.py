#!/usr/bin/env python3
"""Single entry point: bootstraps .venv from the pinned requirements, then runs the project.

Standard library only, so a fresh checkout needs nothing but Python 3.11+:

    python3 run.py demo                 start the local demo (manage.py demo)
    python3 run.py test [pytest args]   run the test suite
    python3 run.py manage <args>        any manage.py command inside the venv
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

MIN_PYTHON = (3, 11)
ROOT = Path(__file__).resolve().parent
VENV_DIR = ROOT / ".venv"
REQUIREMENTS = (ROOT / "requirements.txt", ROOT / "requirements-dev.txt")
STAMP_FILE = VENV_DIR / ".requirements.sha256"
PYTEST_NO_TESTS_COLLECTED = 5

USAGE = """\
usage: python3 run.py <command> [args...]

commands:
  demo               start the local demo (several ledger nodes and the web UI)
  test [args...]     run the test suite; extra args go to pytest
  manage <args...>   run a manage.py command inside the project's virtualenv
"""


def say(message: str) -> None:
    """Print a progress line the user can tell apart from the tools' own output."""
    print(f"[run.py] {message}", flush=True)


def venv_python() -> Path:
    """Return the virtualenv's interpreter path (bin/ on POSIX, Scripts/ on Windows)."""
    if os.name == "nt":
        return VENV_DIR / "Scripts" / "python.exe"
    return VENV_DIR / "bin" / "python"


def compute_requirements_digest() -> str:
    """Hash the requirements files so a changed pin triggers a reinstall, and nothing else does."""
    digest = hashlib.sha256()
    for path in REQUIREMENTS:
        digest.update(path.name.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def ensure_venv() -> Path:
    """Create .venv if missing and (re)install requirements when their digest changed."""
    python = venv_python()
    if not python.exists():
        say(f"creating virtualenv in {VENV_DIR.relative_to(ROOT)}/")
        subprocess.run([sys.executable, "-m", "venv", str(VENV_DIR)], check=True)
    wanted = compute_requirements_digest()
    installed = STAMP_FILE.read_text().strip() if STAMP_FILE.exists() else ""
    if installed != wanted:
        say("installing requirements-dev.txt into .venv (first run takes about a minute)")
        command = [
            str(python), "-m", "pip", "install", "--disable-pip-version-check",
            "--quiet", "-r", str(ROOT / "requirements-dev.txt"),
        ]
        # The stamp is written only after success, so a failed install is retried next time.
        subprocess.run(command, check=True, cwd=ROOT)
        STAMP_FILE.write_text(wanted + "\n")
        say("requirements installed")
    else:
        say("requirements up to date")
    return python


def run_in_venv(python: Path, args: Sequence[str], env: dict[str, str] | None = None) -> int:
    """Run the venv interpreter from the repo root and return its exit code."""
    completed = subprocess.run([str(python), *args], cwd=ROOT, env=env)
    return completed.returncode


def command_demo(python: Path, demo_args: Sequence[str]) -> int:
    """Run manage.py demo and wait for it to stop its nodes and web app itself.

    Ctrl-C reaches the demo directly (same terminal process group). If this process died of
    KeyboardInterrupt instead, subprocess.run would SIGKILL the demo after 0.25 s, before it
    stopped its children; so SIGINT is swallowed here and SIGTERM is passed on.
    """
    say("starting demo: manage.py demo " + " ".join(demo_args))
    child = subprocess.Popen([str(python), "manage.py", "demo", *demo_args], cwd=ROOT)
    # Handlers (unlike SIG_IGN) are reset in the child at exec, so the demo still gets Ctrl-C normally.
    signal.signal(signal.SIGINT, lambda *_: None)
    signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
    return child.wait()


def command_test(python: Path, pytest_args: Sequence[str]) -> int:
    """Run pytest; 'no tests collected' counts as failure so a broken selection cannot pass."""
    env = dict(os.environ)
    # Settings are read when pytest-django loads, before any conftest runs, so set it here.
    env.setdefault("DJANGO_ENV", "test")
    say("running: pytest " + " ".join(pytest_args))
    code = run_in_venv(python, ["-m", "pytest", *pytest_args], env=env)
    if code == PYTEST_NO_TESTS_COLLECTED:
        say("FAILED: pytest collected no tests (exit code 5); check the test path or -k/-m filters")
    elif code != 0:
        say(f"FAILED: pytest exited with code {code}")
    else:
        say("tests passed")
    return code


def main(argv: Sequence[str]) -> int:
    """Dispatch the sub-command; returns the process exit code."""
    if sys.version_info < MIN_PYTHON:
        wanted = ".".join(map(str, MIN_PYTHON))
        say(f"Python {wanted}+ is required, this is {sys.version.split()[0]}")
        return 2
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(USAGE, end="")
        return 0 if argv else 2
    command, rest = argv[0], list(argv[1:])
    if command not in {"demo", "test", "manage"}:
        say(f"unknown command {command!r}")
        print(USAGE, end="", file=sys.stderr)
        return 2
    try:
        python = ensure_venv()
    except subprocess.CalledProcessError as exc:
        say(f"FAILED to prepare .venv (exit code {exc.returncode}); see the output above")
        return exc.returncode or 1
    if command == "test":
        return command_test(python, rest)
    if command == "demo":
        return command_demo(python, rest)
    return run_in_venv(python, ["manage.py", *rest])


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        say("interrupted")
        sys.exit(130)
