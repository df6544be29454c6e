"""Feed reading, matching and clustering compiled by mypyc, used only when built from exactly these sources (issue 10).

Why: a first poll's CPU goes to reading, matching and clustering every item of every feed in Python, while the floor
it is measured against parses in Rust (fastfeedparser). mypyc (part of mypy; it compiles mypy and black) turns the same
typed modules into C extensions: compiled, `MODULES` take 14% off a worker's instructions (callgrind,
`parse_and_tag_body` of 60 of bench/newsfeeds.py's feeds: 1,564 M -> 1,341 M) and a quarter off clustering in the
bot's process (`Clusterer` placing the 597 relevant articles of 300 of those feeds: 649 M -> 486 M). bench/ingest.py
prints which code it measured. The Python sources stay the definition and the fallback:

- a build is used only when the digest it recorded equals the digest of `bot/`'s sources and of this interpreter's
  extension ABI: after an edit, a checkout or on another Python, the sources run, never old code;
- `ACCORD_NATIVE=off` runs the sources whatever is built (the test suite's default: tests patch the sources);
  `ACCORD_NATIVE=require` makes a missing or stale build an error;
- `python -m bot.native` builds (`python3 dev.py compile`, which `python3 dev.py run` calls when a C compiler is
  present) into `build/native` (or `ACCORD_NATIVE_DIR`), never beside the sources.

mypyc makes a dataclass a native class, whose own pickling sets attributes one by one, which a frozen one refuses:
each public frozen dataclass of a compiled module is pickled by its constructor (`pickled_by_fields`), as topics,
taggings and parsed feeds cross to and from the workers. Standard library only: `bot.news` asks `news_path` before
anything else of it is imported.
"""

from __future__ import annotations

import copyreg
import dataclasses
import hashlib
import os
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "bot"
# of bot.news: what every item of every feed goes through, in the workers (reading, matching) and in the bot (stories)
MODULES = ("parse", "urls", "textnorm", "matching", "topics", "gazetteer", "events", "jobs", "stories")
GROUP = "accordwatch_native"  # the shared library the compiled modules load, a top-level module of the build
MODES = ("auto", "off", "require")
_chosen: str | None = None  # what `news_path` chose for this process


def build_dir() -> Path:
    return Path(os.environ.get("ACCORD_NATIVE_DIR") or ROOT / "build" / "native")


def mode() -> str:
    value = os.environ.get("ACCORD_NATIVE", "auto").strip().lower() or "auto"
    if value not in MODES:
        raise ImportError(f"ACCORD_NATIVE must be one of {', '.join(MODES)}, not {value!r}")
    return value


def digest() -> str:
    """What a build is valid for: every source of `bot/` (compiled code is typed against the modules it calls) and
    this interpreter's extension ABI. About 4 ms a process."""
    found = hashlib.sha256(f"{sys.version_info[:2]} {sysconfig.get_config_var('EXT_SUFFIX')}\n".encode())
    for path in sorted(SOURCES.rglob("*.py")):
        found.update(f"{path.relative_to(SOURCES).as_posix()}\n".encode())
        found.update(path.read_bytes())
    return found.hexdigest()


def state() -> str:
    """Whether the compiled modules are used: "compiled", or why not."""
    if mode() == "off":
        return "off (ACCORD_NATIVE=off)"
    stamp = build_dir() / "DIGEST"
    if not stamp.is_file():
        return f"not built (python3 dev.py compile builds {build_dir()})"
    if stamp.read_text().strip() != digest():
        return "stale: built from other sources or for another Python (python3 dev.py compile)"
    return "compiled"


def news_path(path: list[str]) -> list[str]:
    """`bot.news.__path__` with the build's `bot/news` first when the build is current, so that a compiled module is
    imported in place of its source (the other modules are found in the sources, after it)."""
    global _chosen
    current = _chosen = state()
    if current == "compiled":
        root = str(build_dir())
        if root not in sys.path:
            sys.path.append(root)  # the shared library, a top-level module
        return [str(build_dir() / "bot" / "news"), *path]
    if mode() == "require":
        raise ImportError(f"ACCORD_NATIVE=require, but the compiled modules are {current}")
    return path


def reduce_by_fields(instance: Any) -> tuple[Any, ...]:
    """A frozen dataclass pickled as its constructor and fields (see `pickled_by_fields`)."""
    return (type(instance), tuple(getattr(instance, field.name) for field in dataclasses.fields(instance)))


def pickled_by_fields(namespace: dict[str, Any]) -> None:
    """Register with copyreg every public frozen dataclass a module defines (called with its `globals()` at its end),
    to be pickled by `reduce_by_fields`. Why: mypyc compiles a dataclass into a native class whose own pickling sets
    its attributes one by one, which a frozen one refuses (`FrozenInstanceError`), and topics, taggings and parsed
    feeds cross to and from the workers by pickle. Every module of `MODULES` calls it, so a new class needs nothing."""
    for name, value in namespace.items():
        if not isinstance(value, type) or value.__module__ != namespace["__name__"] or name.startswith("_"):
            continue
        params = getattr(value, "__dataclass_params__", None)  # set on a dataclass
        if params is not None and params.frozen:
            copyreg.pickle(value, reduce_by_fields)


def chosen() -> str:
    """What this process's `bot.news` runs ("compiled", or why not), as chosen when it was imported: the sources are
    not read and hashed a second time, and what is said is what was done."""
    return _chosen if _chosen is not None else state()


def build(target: Path | None = None) -> Path:
    """Compile `MODULES` with mypyc into `target` (default `build_dir()`), replacing what is there only once the new
    build is complete. Needs mypy (requirements-native.txt) and a C compiler."""
    from mypyc.build import mypycify  # a build-time dependency, not the bot's
    from setuptools import Distribution

    target = target or build_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    current = digest()
    with tempfile.TemporaryDirectory(prefix="native-", dir=target.parent) as scratch:
        work = Path(scratch)
        config = work / "mypy.ini"
        # the modules' own imports are typed (bot/ is mypy --strict clean); third-party ones without stubs are Any
        config.write_text("[mypy]\npython_version = 3.11\nignore_missing_imports = True\n")
        paths = [f"bot/news/{name}.py" for name in MODULES]
        cwd = Path.cwd()
        os.chdir(ROOT)  # mypyc names a module by its path from the package root
        try:
            extensions = mypycify(
                ["--config-file", str(config), *paths], opt_level="3", group_name=GROUP, target_dir=str(work / "c")
            )
            distribution = Distribution({"name": GROUP, "ext_modules": extensions, "packages": [], "py_modules": []})
            command = distribution.get_command_obj("build_ext")
            command.build_lib = str(work / "out")
            command.build_temp = str(work / "temp")
            command.inplace = False
            distribution.run_command("build_ext")
        finally:
            os.chdir(cwd)
        out = work / "out"
        (out / "DIGEST").write_text(current + "\n")
        if target.exists():
            shutil.rmtree(target)
        out.rename(target)
    return target


def main() -> int:
    try:
        target = build()
    except (Exception, SystemExit) as exc:  # setuptools exits on a compiler error; the sources stay in use
        print(f"Compiling the news core failed ({type(exc).__name__}: {exc}); the bot runs its Python sources.")
        return 1
    print(f"Compiled {', '.join(f'bot.news.{name}' for name in MODULES)} into {target}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
