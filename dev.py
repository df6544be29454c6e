#!/usr/bin/env python3
"""One command to set up and run the bot, or its checks, on a machine with only Python 3.11+.

    python3 dev.py run      create .venv, install requirements.txt, run the bot (python -m bot)
    python3 dev.py test     create .venv, install requirements-dev.txt, run ruff, mypy and pytest
    python3 dev.py emulator run the local Discord API emulator (see README, "Try it without Discord")

Standard library only, so that it works before anything is installed. Extra arguments go to the bot or pytest.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def _requirements_digest(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes())
        for line in path.read_text().splitlines():
            if line.startswith("-r "):
                digest.update((path.parent / line[3:].strip()).read_bytes())
    return digest.hexdigest()


def ensure_venv(requirements: str) -> None:
    """Create .venv and install `requirements` once; again only when the file changes."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py must run, and explain, on an old Python
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print(f"Creating {VENV} ...", flush=True)
        venv.create(VENV, with_pip=True)
    req = ROOT / requirements
    stamp = VENV / f".installed-{req.stem}"
    digest = _requirements_digest([req])
    if stamp.exists() and stamp.read_text() == digest:
        return
    print(f"Installing {requirements} ...", flush=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "-r", str(req)], check=True)
    stamp.write_text(digest)


def run(args: list[str]) -> int:
    ensure_venv("requirements.txt")
    return subprocess.call([str(PYTHON), "-m", "bot", *args], cwd=ROOT)


def test(args: list[str]) -> int:
    ensure_venv("requirements-dev.txt")
    steps = [
        [str(PYTHON), "-m", "ruff", "check", "bot", "tests", "bench", "dev.py"],
        [str(PYTHON), "-m", "mypy"],
        [str(PYTHON), "-m", "pytest", *args],
    ]
    for step in steps:
        print("$", " ".join(Path(step[0]).name if i == 0 else part for i, part in enumerate(step)), flush=True)
        code = subprocess.call(step, cwd=ROOT)
        if code != 0:
            return code
    return 0


def emulator(args: list[str]) -> int:
    ensure_venv("requirements-dev.txt")
    return subprocess.call([str(PYTHON), "-m", "tests.discord_emulator", *args], cwd=ROOT)


def main() -> int:
    commands = {"run": run, "test": test, "emulator": emulator}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__.strip())
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
