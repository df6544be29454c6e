"""Typed checks of request bodies, collected along field paths into Discord's 400 / 50035 error body.

Every check first makes sure the value has the right JSON type, so that a client's wrong type is a 400 with
the field's path (as Discord answers it) and never an exception inside the emulator (a 500, which discord.py
would retry as if Discord were down). The codes and sentences are those Discord puts in `_errors`, as seen in
its answers quoted by client libraries' bug reports.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

Path = tuple[str, ...]
Problems = list[tuple[Path, str, str]]  # (field path, code, message)

HTTP = ("http", "https")
HTTP_OR_ATTACHMENT = ("http", "https", "attachment")
_INTEGER_TEXT = re.compile(r"^-?\d{1,20}$")
_SNOWFLAKE_TEXT = re.compile(r"^\d{1,20}$")
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")


def error_body(code: int, message: str, problems: Problems | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if problems:
        errors: dict[str, Any] = {}
        for path, problem_code, text in problems:
            node = errors
            for part in path:
                node = node.setdefault(part, {})
            node.setdefault("_errors", []).append({"code": problem_code, "message": text})
        body["errors"] = errors
    return body


def invalid_form(problems: Problems) -> dict[str, Any]:
    return error_body(50035, "Invalid Form Body", problems)


def is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Form:
    """The problems found in one request body; each check returns the typed value, or None when it is absent
    or wrong (and then records why)."""

    def __init__(self) -> None:
        self.problems: Problems = []

    def add(self, path: Path, code: str, message: str) -> None:
        self.problems.append((path, code, message))

    def required(self, path: Path) -> None:
        self.add(path, "BASE_TYPE_REQUIRED", "This field is required")

    def length(self, path: Path, size: int, low: int, high: int | None) -> bool:
        """Discord's wording: one bound, or both."""
        if high is not None and size > high:
            if low > 0:
                self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")
            else:
                self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {high} or fewer in length.")
            return False
        if size < low:
            if high is not None:
                self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")
            else:
                self.add(path, "BASE_TYPE_MIN_LENGTH", f"Must be {low} or more in length.")
            return False
        return True

    def string(
        self,
        path: Path,
        value: Any,
        *,
        high: int | None = None,
        low: int = 0,
        required: bool = False,
        trim: bool = False,
    ) -> str | None:
        """A string; `trim` counts its length without leading and trailing whitespace (embed text)."""
        if value is None:
            if required:
                self.required(path)
            return None
        if not isinstance(value, str):
            self.add(path, "STRING_TYPE_CONVERT", "Could not interpret value as string.")
            return None
        counted = value.strip() if trim else value
        return value if self.length(path, len(counted), low, high) else None

    def integer(
        self, path: Path, value: Any, *, low: int | None = None, high: int | None = None, required: bool = False
    ) -> int | None:
        """An integer; like Discord, a string of digits is read as one."""
        if value is None:
            if required:
                self.required(path)
            return None
        if isinstance(value, str) and _INTEGER_TEXT.match(value):
            value = int(value)
        if not is_integer(value):
            self.add(path, "NUMBER_TYPE_COERCE", f'Value "{value}" is not int.')
            return None
        if low is not None and value < low:
            self.add(path, "NUMBER_TYPE_MIN", f"int value should be greater than or equal to {low}.")
            return None
        if high is not None and value > high:
            self.add(path, "NUMBER_TYPE_MAX", f"int value should be less than or equal to {high}.")
            return None
        return int(value)

    def boolean(self, path: Path, value: Any) -> bool | None:
        if value is None:
            return None
        if not isinstance(value, bool):
            self.add(path, "BOOLEAN_TYPE_CONVERT", "Must be either true or false.")
            return None
        return value

    def array(
        self, path: Path, value: Any, *, high: int | None = None, low: int = 0, required: bool = False
    ) -> list[Any] | None:
        if value is None:
            if required:
                self.required(path)
            return None
        if not isinstance(value, list):
            self.add(path, "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType.")
            return None
        self.length(path, len(value), low, high)
        return value

    def mapping(self, path: Path, value: Any, *, required: bool = False) -> dict[str, Any] | None:
        if value is None:
            if required:
                self.required(path)
            return None
        if not isinstance(value, dict):
            self.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            return None
        return value

    def snowflake(self, path: Path, value: Any, *, required: bool = False) -> int | None:
        if value is None:
            if required:
                self.required(path)
            return None
        text = str(value) if is_integer(value) else value
        if not isinstance(text, str) or not _SNOWFLAKE_TEXT.match(text) or int(text) >= 1 << 64:
            self.add(path, "NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.')
            return None
        return int(text)

    def url(self, path: Path, value: Any, *, schemes: tuple[str, ...] = HTTP, high: int = 2048) -> str | None:
        """A URL of one of `schemes` (Discord refuses `guid:...`, `javascript:...`, a bare word...)."""
        text = self.string(path, value, high=high)
        if text is None:
            return None
        try:
            parts = urlsplit(text)
        except ValueError:
            self.add(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")
            return None
        scheme = parts.scheme.lower()
        if scheme not in schemes:
            allowed = ", ".join(f"'{s}'" for s in schemes)
            self.add(
                path,
                "URL_TYPE_INVALID_SCHEME",
                f'Scheme "{scheme}" is not supported. Scheme must be one of ({allowed}).',
            )
            return None
        if not parts.netloc or _SPACE_OR_CONTROL.search(text):
            self.add(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")
            return None
        return text

    def timestamp(self, path: Path, value: Any) -> datetime | None:
        text = self.string(path, value)
        if text is None:
            return None
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            self.add(path, "DATE_TIME_TYPE_PARSE", f"Could not parse {text}. Should be ISO8601.")
            return None

    def choice(self, path: Path, value: Any, choices: tuple[Any, ...]) -> Any:
        if value not in choices:
            shown = ", ".join(repr(c) for c in choices)
            self.add(path, "BASE_TYPE_CHOICES", f"Value must be one of {{{shown}}}.")
            return None
        return value
