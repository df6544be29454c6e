"""The sources file: the built-in one in the package, or the operator's `SOURCES_FILE` in the same format.

TOML, one `[[source]]` table per source. A bad file must stop start-up with a message an operator can act on,
so every problem names the file and the line of the offending table.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, get_args
from urllib.parse import urlsplit

from bot.news.models import Source, SourceKind

BUILTIN = "bot/news/data/sources.toml"
_KEYS = ("url", "name", "kind", "interval", "language")
_KINDS: tuple[str, ...] = get_args(SourceKind)
_HEADER = re.compile(r"""^\s*\[\[\s*(?:source|"source"|'source')\s*\]\]""")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


class SourcesError(ValueError):
    """A sources file that cannot be used; the message gives the file, the line and the problem."""

    def __init__(self, file: str, line: int | None, problem: str) -> None:
        self.file = file
        self.line = line
        self.problem = problem
        where = f"{file}, line {line}" if line is not None else file
        super().__init__(f"{where}: {problem}")


def load_sources(path: Path | None = None) -> tuple[Source, ...]:
    """The sources of a file, in its order; None reads the built-in file (web addresses only).

    The operator's file may also name local files (a path, relative to the file's folder, or a file:// URL),
    which the fetcher reads from disk: handy with `python -m bot check` and saved feeds.
    """
    if path is None:
        text = resources.files("bot.news").joinpath("data", "sources.toml").read_text(encoding="utf-8")
        return parse_sources(text, file=BUILTIN, base=None)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourcesError(str(path), None, f"cannot read the file ({exc})") from None
    return parse_sources(text, file=str(path), base=path.resolve().parent)


def parse_sources(text: str, *, file: str, base: Path | None) -> tuple[Source, ...]:
    """Parse and check a sources file's text; `base` None means local files are not allowed (the built-in file)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_POSITION.search(message)
        if found is None:
            raise SourcesError(file, None, f"not valid TOML: {message}") from None
        problem = f"not valid TOML: {message[: found.start()]} (column {found.group(2)})"
        raise SourcesError(file, int(found.group(1)), problem) from None
    unknown = sorted(key for key in data if key != "source")
    if unknown:
        line = _line_of_key(text, unknown[0])
        raise SourcesError(file, line, f"unknown top-level key {unknown[0]!r}: every source is a [[source]] table")
    tables = data.get("source", [])
    if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
        raise SourcesError(file, _line_of_key(text, "source"), "`source` must be [[source]] tables")
    headers = [number for number, line in enumerate(text.splitlines(), start=1) if _HEADER.match(line)]
    sources: list[Source] = []
    seen: dict[str, int | None] = {}
    for index, table in enumerate(tables):
        line = headers[index] if len(headers) == len(tables) else None
        try:
            source = _source(table, base)
        except ValueError as exc:
            raise SourcesError(file, line, str(exc)) from None
        if source.url in seen:
            first = seen[source.url]
            where = f" (first at line {first})" if first is not None else ""
            raise SourcesError(file, line, f"duplicate url {source.url!r}{where}")
        seen[source.url] = line
        sources.append(source)
    return tuple(sources)


def _source(table: dict[str, Any], base: Path | None) -> Source:
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        names = ", ".join(repr(key) for key in unknown)
        raise ValueError(f"unknown key {names} (a source has {', '.join(_KEYS)})")
    url = table.get("url")
    if url is None:
        raise ValueError("missing url")
    if not isinstance(url, str) or not url.strip():
        raise ValueError("url must be a non-empty string")
    url, default_name = _location(url.strip(), base)
    name = table.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        raise ValueError("name must be a non-empty string")
    kind = table.get("kind", "feed")
    if kind not in _KINDS:
        raise ValueError(f"unknown kind {kind!r} (expected {' or '.join(_KINDS)})")
    interval = table.get("interval")
    if interval is not None and (isinstance(interval, bool) or not isinstance(interval, int) or interval <= 0):
        raise ValueError(f"interval must be a positive whole number of seconds, not {interval!r}")
    language = table.get("language")
    if language is not None and (not isinstance(language, str) or not language.strip()):
        raise ValueError("language must be a non-empty string such as 'en'")
    return Source(url=url, name=name.strip(), kind=kind, interval=interval, language=language)


def _location(url: str, base: Path | None) -> tuple[str, str]:
    """The URL to store and the default name: the host for web addresses, the file name for local files."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in {"http", "https"}:
        if not parts.hostname:
            raise ValueError(f"url {url!r} has no host")
        return url, parts.hostname
    local = "a local path or file://, " if base is not None else ""
    if scheme == "file" and base is not None:
        if parts.netloc not in {"", "localhost"}:
            raise ValueError(f"url {url!r}: a file:// URL must name a file on this machine")
        return url, Path(parts.path).name or url
    if scheme == "" and base is not None:
        path = (base / Path(url).expanduser()).resolve()
        return str(path), path.name
    raise ValueError(f"url {url!r}: bad scheme {parts.scheme or '(none)'!r} (expected {local}http or https)")


def _line_of_key(text: str, key: str) -> int | None:
    pattern = re.compile(rf"""^\s*(?:\[+\s*)?["']?{re.escape(key)}["']?\s*(?:=|\]|\.)""")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return None
