"""Discord's limits on messages, embeds, components and command definitions, with its error bodies.

An invalid form is 400 with code 50035 and `errors` nested along the field path, each leaf holding
`_errors: [{code, message}]`; discord.py flattens that into "In embeds.0.fields.3.value: ...".
"""

from __future__ import annotations

import re
from typing import Any

Problems = list[tuple[tuple[str, ...], str, str]]  # (field path, code, message)

CONTENT_LIMIT = 2000
EMBEDS_LIMIT = 10
EMBED_TOTAL = 6000
EMBED_LIMITS = {"title": 256, "description": 4096}
FIELD_LIMITS = {"name": 256, "value": 1024}
FIELDS_LIMIT = 25
COMMAND_NAME = re.compile(r"^[-_'\w\u0900-\u097F\u0E00-\u0E7F]{1,32}$")
COMMANDS_LIMIT = 100
COMMAND_SIZE = 8000
AUTOCOMPLETE_TYPES = {3, 4, 10}


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


def _too_long(problems: Problems, path: tuple[str, ...], value: Any, limit: int) -> None:
    if isinstance(value, str) and len(value) > limit:
        problems.append((path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."))


def _embed_size(embed: dict[str, Any]) -> int:
    """What counts towards the 6000 characters: title, description, fields, footer and author."""
    total = len((embed.get("title") or "").strip()) + len((embed.get("description") or "").strip())
    for item in embed.get("fields") or []:
        total += len(str(item.get("name", "")).strip()) + len(str(item.get("value", "")).strip())
    total += len(str((embed.get("footer") or {}).get("text", "")).strip())
    total += len(str((embed.get("author") or {}).get("name", "")).strip())
    return total


def check_embeds(embeds: Any, prefix: tuple[str, ...]) -> Problems:
    problems: Problems = []
    if not isinstance(embeds, list):
        return [((*prefix, "embeds"), "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType.")]
    if len(embeds) > EMBEDS_LIMIT:
        problems.append(((*prefix, "embeds"), "BASE_TYPE_MAX_LENGTH", f"Must be {EMBEDS_LIMIT} or fewer in length."))
    for index, embed in enumerate(embeds):
        at = (*prefix, "embeds", str(index))
        for name, limit in EMBED_LIMITS.items():
            _too_long(problems, (*at, name), embed.get(name), limit)
        fields = embed.get("fields") or []
        if len(fields) > FIELDS_LIMIT:
            problems.append(((*at, "fields"), "BASE_TYPE_MAX_LENGTH", f"Must be {FIELDS_LIMIT} or fewer in length."))
        for number, item in enumerate(fields):
            for name, limit in FIELD_LIMITS.items():
                value = item.get(name)
                if not isinstance(value, str) or not value.strip():
                    problems.append(
                        ((*at, "fields", str(number), name), "BASE_TYPE_REQUIRED", "This field is required")
                    )
                _too_long(problems, (*at, "fields", str(number), name), value, limit)
        _too_long(problems, (*at, "footer", "text"), (embed.get("footer") or {}).get("text"), 2048)
        _too_long(problems, (*at, "author", "name"), (embed.get("author") or {}).get("name"), 256)
    if not problems and sum(_embed_size(e) for e in embeds) > EMBED_TOTAL:
        problems.append(
            ((*prefix, "embeds"), "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {EMBED_TOTAL}")
        )
    return problems


def check_components(rows: Any, prefix: tuple[str, ...]) -> Problems:
    problems: Problems = []
    if not isinstance(rows, list):
        return [((*prefix, "components"), "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType.")]
    if len(rows) > 5:
        problems.append(((*prefix, "components"), "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length."))
    seen: set[str] = set()
    for index, row in enumerate(rows):
        at = (*prefix, "components", str(index), "components")
        children = row.get("components") or []
        if row.get("type") != 1 or not 1 <= len(children) <= 5:
            problems.append((at, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."))
        for number, child in enumerate(children):
            custom_id = child.get("custom_id")
            _too_long(problems, (*at, str(number), "custom_id"), custom_id, 100)
            _too_long(problems, (*at, str(number), "label"), child.get("label"), 80)
            if custom_id is not None and custom_id in seen:
                problems.append(
                    (
                        (*at, str(number), "custom_id"),
                        "COMPONENT_CUSTOM_ID_DUPLICATED",
                        "Component custom id cannot be duplicated",
                    )
                )
            if custom_id is not None:
                seen.add(custom_id)
    return problems


def check_message(
    body: dict[str, Any], prefix: tuple[str, ...] = (), *, edit: bool = False
) -> tuple[int, dict[str, Any]] | None:
    """None when the message is valid, else (status, Discord's error body)."""
    problems: Problems = []
    content = body.get("content")
    if content is not None and not isinstance(content, str):
        problems.append(((*prefix, "content"), "STRING_TYPE_CONVERT", "Could not interpret value as string."))
    _too_long(problems, (*prefix, "content"), content, CONTENT_LIMIT)
    if body.get("embeds") is not None:
        problems += check_embeds(body["embeds"], prefix)
    if body.get("components") is not None:
        problems += check_components(body["components"], prefix)
    nonce = body.get("nonce")
    if isinstance(nonce, str) and len(nonce) > 25:
        problems.append(((*prefix, "nonce"), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."))
    if problems:
        return 400, invalid_form(problems)
    empty = not content and not body.get("embeds") and not body.get("components") and not body.get("attachments")
    if empty and not edit:
        return 400, error_body(50006, "Cannot send an empty message")
    return None


def _check_option(option: dict[str, Any], at: tuple[str, ...], problems: Problems) -> None:
    name = option.get("name")
    if not isinstance(name, str) or not COMMAND_NAME.match(name) or name != name.lower():
        problems.append(((*at, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"))
    description = option.get("description")
    if not isinstance(description, str) or not 1 <= len(description) <= 100:
        problems.append(((*at, "description"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."))
    choices = option.get("choices") or []
    if len(choices) > 25:
        problems.append(((*at, "choices"), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."))
    for number, choice in enumerate(choices):
        if not 1 <= len(str(choice.get("name", ""))) <= 100:
            problems.append(
                ((*at, "choices", str(number), "name"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
            )
        _too_long(problems, (*at, "choices", str(number), "value"), choice.get("value"), 100)
    if option.get("autocomplete"):
        if choices:
            problems.append(((*at, "autocomplete"), "AUTOCOMPLETE_INVALID", "Autocomplete cannot be set with choices"))
        if option.get("type") not in AUTOCOMPLETE_TYPES:
            problems.append(
                (
                    (*at, "autocomplete"),
                    "AUTOCOMPLETE_INVALID",
                    "Autocomplete is only for string, integer and number options",
                )
            )
    children = option.get("options") or []
    if len(children) > 25:
        problems.append(((*at, "options"), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."))
    optional_seen = False
    for number, child in enumerate(children):
        if child.get("type") in (1, 2):
            pass
        elif child.get("required"):
            if optional_seen:
                problems.append(
                    (
                        (*at, "options", str(number), "required"),
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
                )
        else:
            optional_seen = True
        _check_option(child, (*at, "options", str(number)), problems)


def _size(option: dict[str, Any]) -> int:
    total = len(str(option.get("name", ""))) + len(str(option.get("description", "")))
    total += sum(len(str(c.get("name", ""))) + len(str(c.get("value", ""))) for c in option.get("choices") or [])
    return total + sum(_size(child) for child in option.get("options") or [])


def check_commands(commands: Any) -> tuple[int, dict[str, Any]] | None:
    """Validate a bulk overwrite the way Discord does; None when it is accepted."""
    if not isinstance(commands, list):
        return 400, invalid_form([((), "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType.")])
    problems: Problems = []
    if len(commands) > COMMANDS_LIMIT:
        problems.append(((), "BASE_TYPE_MAX_LENGTH", f"Must be {COMMANDS_LIMIT} or fewer in length."))
    names: set[tuple[int, str]] = set()
    for index, command in enumerate(commands):
        at = (str(index),)
        kind = command.get("type", 1)
        if kind == 1:
            _check_option(command, at, problems)
        key = (kind, str(command.get("name")))
        if key in names:
            problems.append(
                ((*at, "name"), "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique")
            )
        names.add(key)
        if _size(command) > COMMAND_SIZE:
            problems.append((at, "APPLICATION_COMMAND_TOO_LARGE", f"Command exceeds maximum size ({COMMAND_SIZE})"))
    return (400, invalid_form(problems)) if problems else None
