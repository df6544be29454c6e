#!/usr/bin/env python3
"""One command to set up and run the bot, or its checks, on a machine with only Python 3.11+.

    python3 dev.py run      create .venv, install requirements.txt, run the bot (python -m bot)
    python3 dev.py test     create .venv, install requirements-dev.txt, run ruff, mypy and pytest
    python3 dev.py emulator run the local Discord API emulator (see README, "Try it without Discord")
    python3 dev.py compile  compile the news core with mypyc (bot/native.py; needs a C compiler)

Standard library only, so that it works before anything is installed. Extra arguments go to the bot or pytest.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
FAILED_BUILD = ROOT / "build" / "native-failed"  # the digest of sources the news core failed to compile from


def _requirements_digest(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes())
        for line in path.read_text().splitlines():
            if line.startswith("-r "):
                digest.update((path.parent / line[3:].strip()).read_bytes())
    return digest.hexdigest()


def ensure_venv(requirements: str) -> None:
    """Create .venv and install `requirements` once; again only when the file changes (a current install of a file
    that includes it, such as requirements-dev.txt, counts)."""
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
    for including in ROOT.glob("requirements*.txt"):
        other = VENV / f".installed-{including.stem}"
        lines = including.read_text().splitlines()
        if f"-r {requirements}" in lines and other.exists() and other.read_text() == _requirements_digest([including]):
            return
    print(f"Installing {requirements} ...", flush=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "-r", str(req)], check=True)
    stamp.write_text(digest)


def hand_over(command: list[str]) -> int:
    """Become `command` (exec): a supervisor's SIGTERM then reaches the bot itself, and no child is left behind
    when this wrapper stops. Windows has no exec that keeps the process: there the child runs and its status is
    returned."""
    if os.name == "nt":
        return subprocess.call(command, cwd=ROOT)
    os.chdir(ROOT)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)


def run(args: list[str]) -> int:
    ensure_venv("requirements.txt")
    if os.environ.get("ACCORD_NATIVE", "auto").strip().lower() != "off" and _has_compiler():
        _compile_if_stale()
    return hand_over([str(PYTHON), "-m", "bot", *args])


def _has_compiler() -> bool:
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(compiler) is not None


def _compile_if_stale() -> None:
    """Build the compiled news core when there is none for these sources (bot/native.py). A build that fails is
    said once for these sources (`FAILED_BUILD`), not tried at every start; the bot runs its Python sources."""
    asked = subprocess.run(
        [str(PYTHON), "-c", "from bot.native import digest, state; print(state() == 'compiled', digest())"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if asked.returncode != 0:
        return  # the bot says what is wrong (an ACCORD_NATIVE it does not know) as it starts
    compiled, digest = asked.stdout.split()
    if compiled == "True" or (FAILED_BUILD.exists() and FAILED_BUILD.read_text() == digest):
        return
    print("Compiling the news core with mypyc, once for these sources (ACCORD_NATIVE=off skips it) ...", flush=True)
    if compile_native([]) != 0:
        FAILED_BUILD.parent.mkdir(exist_ok=True)
        FAILED_BUILD.write_text(digest)
        print(f"Not tried again for these sources: python3 dev.py compile to retry ({FAILED_BUILD}).", flush=True)


def compile_native(args: list[str]) -> int:
    ensure_venv("requirements-native.txt")  # mypy, which holds mypyc
    code = subprocess.call([str(PYTHON), "-m", "bot.native", *args], cwd=ROOT)
    if code == 0:
        FAILED_BUILD.unlink(missing_ok=True)
    return code


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
    return hand_over([str(PYTHON), "-m", "tests.discord_emulator", *args])


def main() -> int:
    commands = {"run": run, "test": test, "emulator": emulator, "compile": compile_native}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__.strip())
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
