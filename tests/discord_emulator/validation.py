"""Discord's rules for messages, embeds, allowed mentions, command definitions and autocomplete choices.

An invalid form is 400 with code 50035 and `errors` nested along the field path, each leaf holding
`_errors: [{code, message}]`; discord.py flattens that into "In embeds.0.fields.3.value: ...". Every field is
type-checked before it is measured (tests/discord_emulator/forms.py), so a wrong type is a 400, never a 500.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from tests.discord_emulator.components import ComponentCheck
from tests.discord_emulator.forms import HTTP_OR_ATTACHMENT, Form, Path, error_body, invalid_form, is_integer

CONTENT_LIMIT = 2000
EMBEDS_LIMIT = 10
EMBED_TOTAL = 6000
FIELDS_LIMIT = 25
NONCE_LIMIT = 25
MENTION_IDS_LIMIT = 100
MENTION_TYPES = ("users", "roles", "everyone")
COMMAND_NAME = re.compile(r"^[-_'\w\u0900-\u097F\u0E00-\u0E7F]{1,32}$")
CONTEXT_MENU_NAME = re.compile(r"^[-_' \w\u0900-\u097F\u0E00-\u0E7F]{1,32}$")
# Per scope (global, or one guild): 100 slash commands, 15 user commands, 15 message commands, 1 entry point.
COMMANDS_LIMITS = {1: 100, 2: 15, 3: 15, 4: 1}
COMMAND_SIZE = 8000
AUTOCOMPLETE_TYPES = {3, 4, 10}
CHOICES_LIMIT = 25
CHOICE_NAME = 100
CHOICE_VALUE = 100

SUPPRESS_EMBEDS = 1 << 2
EPHEMERAL = 1 << 6
SUPPRESS_NOTIFICATIONS = 1 << 12
IS_VOICE_MESSAGE = 1 << 13
IS_COMPONENTS_V2 = 1 << 15
Context = Literal["channel", "interaction", "edit"]
# Which flags a sender may set; Discord leaves the others out of the message rather than refusing it.
SETTABLE_FLAGS: dict[Context, int] = {
    "channel": SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_VOICE_MESSAGE | IS_COMPONENTS_V2,
    "interaction": SUPPRESS_EMBEDS | EPHEMERAL | SUPPRESS_NOTIFICATIONS | IS_VOICE_MESSAGE | IS_COMPONENTS_V2,
    "edit": SUPPRESS_EMBEDS | IS_COMPONENTS_V2,
}
Refusal = tuple[int, dict[str, Any]]

__all__ = ["check_choices", "check_commands", "check_message", "error_body", "invalid_form"]


def _embed(form: Form, at: Path, value: Any) -> int:
    """Check one embed; returns what it counts towards the 6000 characters (text trimmed, as Discord counts)."""
    embed = form.mapping(at, value, required=True)
    if embed is None:
        return 0
    total = 0
    for name, limit in (("title", 256), ("description", 4096)):
        text = form.string((*at, name), embed.get(name), high=limit, trim=True)
        total += len((text or "").strip())
    form.string((*at, "type"), embed.get("type"))
    form.url((*at, "url"), embed.get("url"))
    form.timestamp((*at, "timestamp"), embed.get("timestamp"))
    form.integer((*at, "color"), embed.get("color"), low=0, high=0xFFFFFF)
    footer = form.mapping((*at, "footer"), embed.get("footer"))
    if footer is not None:
        text = form.string((*at, "footer", "text"), footer.get("text"), high=2048, trim=True)
        total += len((text or "").strip())
        form.url((*at, "footer", "icon_url"), footer.get("icon_url"), schemes=HTTP_OR_ATTACHMENT)
    author = form.mapping((*at, "author"), embed.get("author"))
    if author is not None:
        text = form.string((*at, "author", "name"), author.get("name"), high=256, trim=True)
        total += len((text or "").strip())
        form.url((*at, "author", "url"), author.get("url"))
        form.url((*at, "author", "icon_url"), author.get("icon_url"), schemes=HTTP_OR_ATTACHMENT)
    for name in ("image", "thumbnail"):
        media = form.mapping((*at, name), embed.get(name))
        if media is not None:
            form.url((*at, name, "url"), media.get("url"), schemes=HTTP_OR_ATTACHMENT)
    fields = form.array((*at, "fields"), embed.get("fields"), high=FIELDS_LIMIT)
    for number, item in enumerate(fields or []):
        where = (*at, "fields", str(number))
        field = form.mapping(where, item, required=True)
        if field is None:
            continue
        for name, limit in (("name", 256), ("value", 1024)):
            text = form.string((*where, name), field.get(name), high=limit, required=True, trim=True)
            if text is not None and not text.strip():
                form.required((*where, name))  # only whitespace: Discord trims it to nothing
            total += len((text or "").strip())
        form.boolean((*where, "inline"), field.get("inline"))
    return total


def _embeds(form: Form, at: Path, value: Any) -> None:
    embeds = form.array(at, value, high=EMBEDS_LIMIT)
    if embeds is None:
        return
    before = len(form.problems)
    total = sum(_embed(form, (*at, str(index)), embed) for index, embed in enumerate(embeds))
    if len(form.problems) == before and total > EMBED_TOTAL:
        form.add(at, "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {EMBED_TOTAL}")


def _allowed_mentions(form: Form, at: Path, value: Any) -> None:
    mentions = form.mapping(at, value)
    if mentions is None:
        return
    parse = form.array((*at, "parse"), mentions.get("parse"))
    for index, kind in enumerate(parse or []):
        form.choice((*at, "parse", str(index)), kind, MENTION_TYPES)
    for kind in ("users", "roles"):
        ids = form.array((*at, kind), mentions.get(kind), high=MENTION_IDS_LIMIT)
        for index, item in enumerate(ids or []):
            form.snowflake((*at, kind, str(index)), item, required=True)
        # The docs' own invalid example: parse "users" (or "roles") together with a list of them.
        if ids and parse and kind in parse:
            form.add(
                at,
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
            )
    form.boolean((*at, "replied_user"), mentions.get("replied_user"))


def _nonce(form: Form, at: Path, value: Any) -> None:
    if value is None or is_integer(value):
        return
    if isinstance(value, str):
        form.length(at, len(value), 0, NONCE_LIMIT)
    else:
        form.add(at, "NONCE_TYPE_INVALID", "Nonce must be an integer or a string.")


def _message_reference(form: Form, at: Path, value: Any) -> None:
    reference = form.mapping(at, value)
    if reference is None:
        return
    form.snowflake((*at, "message_id"), reference.get("message_id"), required=True)
    form.snowflake((*at, "channel_id"), reference.get("channel_id"))
    form.snowflake((*at, "guild_id"), reference.get("guild_id"))
    form.boolean((*at, "fail_if_not_exists"), reference.get("fail_if_not_exists"))
    if reference.get("type") is not None:
        form.choice((*at, "type"), reference.get("type"), (0, 1))


def message_flags(body: dict[str, Any]) -> int:
    """The flags asked for (0 when absent or not a number: check_message has refused those)."""
    value = body.get("flags")
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def check_message(
    body: Any, prefix: Path = (), *, context: Context = "channel", existing_flags: int = 0
) -> Refusal | None:
    """None when the message is valid, else (status, Discord's error body).

    `context` says where it is sent (which flags may be set, and whether it is an edit); `existing_flags` are
    an edited message's (a Components V2 message stays one)."""
    form = Form()
    message = form.mapping(prefix, body, required=True)
    if message is None:
        return 400, invalid_form(form.problems)
    edit = context == "edit"
    asked = form.integer((*prefix, "flags"), message.get("flags"), low=0) or 0
    v2 = bool((asked | existing_flags) & IS_COMPONENTS_V2)
    if edit and existing_flags & IS_COMPONENTS_V2 and message.get("flags") is not None and not asked & IS_COMPONENTS_V2:
        form.add(
            (*prefix, "flags"),
            "MESSAGE_CANNOT_REMOVE_COMPONENTS_V2_FLAG",
            "The IS_COMPONENTS_V2 flag cannot be removed.",
        )
    content = form.string((*prefix, "content"), message.get("content"), high=CONTENT_LIMIT)
    form.boolean((*prefix, "tts"), message.get("tts"))
    if message.get("embeds") is not None:
        _embeds(form, (*prefix, "embeds"), message["embeds"])
    if message.get("components") is not None:
        ComponentCheck(form, v2=v2).check(message["components"], (*prefix, "components"))
    if v2:
        for name in ("content", "embeds", "poll", "sticker_ids"):
            if message.get(name):
                form.add(
                    (*prefix, name),
                    "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                    f"The '{name}' field cannot be used when using MessageFlags.IS_COMPONENTS_V2",
                )
    _allowed_mentions(form, (*prefix, "allowed_mentions"), message.get("allowed_mentions"))
    _nonce(form, (*prefix, "nonce"), message.get("nonce"))
    form.boolean((*prefix, "enforce_nonce"), message.get("enforce_nonce"))
    _message_reference(form, (*prefix, "message_reference"), message.get("message_reference"))
    form.array((*prefix, "attachments"), message.get("attachments"), high=10)
    form.array((*prefix, "sticker_ids"), message.get("sticker_ids"), high=3)
    if form.problems:
        return 400, invalid_form(form.problems)
    parts = ("embeds", "components", "attachments", "sticker_ids", "poll")
    if not edit and not content and not any(message.get(name) for name in parts):
        return 400, error_body(50006, "Cannot send an empty message")
    return None


# Commands --------------------------------------------------------------------------------------------------


def _option(form: Form, option: dict[str, Any], at: Path) -> None:
    name = form.string((*at, "name"), option.get("name"), required=True)
    if name is not None and (not COMMAND_NAME.match(name) or name != name.lower()):
        form.add((*at, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
    form.string((*at, "description"), option.get("description"), low=1, high=100, required=True)
    choices = form.array((*at, "choices"), option.get("choices"), high=CHOICES_LIMIT)
    for number, item in enumerate(choices or []):
        where = (*at, "choices", str(number))
        choice = form.mapping(where, item, required=True)
        if choice is not None:
            form.string((*where, "name"), choice.get("name"), low=1, high=CHOICE_NAME, required=True)
            if isinstance(choice.get("value"), str):
                form.string((*where, "value"), choice.get("value"), high=CHOICE_VALUE)
            elif choice.get("value") is None:
                form.required((*where, "value"))
    if option.get("autocomplete"):
        if choices:
            form.add((*at, "autocomplete"), "AUTOCOMPLETE_INVALID", "Autocomplete cannot be set with choices")
        if option.get("type") not in AUTOCOMPLETE_TYPES:
            form.add(
                (*at, "autocomplete"),
                "AUTOCOMPLETE_INVALID",
                "Autocomplete is only for string, integer and number options",
            )
    children = form.array((*at, "options"), option.get("options"), high=25)
    optional_seen = False
    for number, item in enumerate(children or []):
        where = (*at, "options", str(number))
        child = form.mapping(where, item, required=True)
        if child is None:
            continue
        if child.get("type") in (1, 2):
            pass
        elif child.get("required"):
            if optional_seen:
                form.add(
                    (*where, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            optional_seen = True
        _option(form, child, where)


def _size(option: dict[str, Any]) -> int:
    """What counts towards the 8000 characters: names, descriptions and choice values, at every depth."""
    total = len(str(option.get("name", ""))) + len(str(option.get("description", "")))
    for choice in option.get("choices") or []:
        total += len(str(choice.get("name", ""))) + len(str(choice.get("value", "")))
    return total + sum(_size(child) for child in option.get("options") or [])


def check_commands(commands: Any) -> Refusal | None:
    """Validate a bulk overwrite the way Discord does; None when it is accepted."""
    form = Form()
    listed = form.array((), commands, required=True)
    if listed is None:
        return 400, invalid_form(form.problems)
    counts: dict[int, int] = {}
    names: set[tuple[int, str]] = set()
    for index, item in enumerate(listed):
        at = (str(index),)
        command = form.mapping(at, item, required=True)
        if command is None:
            continue
        kind = form.integer((*at, "type"), command.get("type", 1), low=1, high=4)
        if kind is None:
            continue
        counts[kind] = counts.get(kind, 0) + 1
        # A string of permission bits; discord.py sends a number, which Discord reads too.
        form.integer((*at, "default_member_permissions"), command.get("default_member_permissions"), low=0)
        if kind == 1:
            _option(form, command, at)
        else:
            name = form.string((*at, "name"), command.get("name"), required=True)
            if name is not None and not CONTEXT_MENU_NAME.match(name):
                form.add((*at, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        key = (kind, str(command.get("name")))
        if key in names:
            form.add((*at, "name"), "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique")
        names.add(key)
        if not form.problems and _size(command) > COMMAND_SIZE:
            form.add(at, "APPLICATION_COMMAND_TOO_LARGE", f"Command exceeds maximum size ({COMMAND_SIZE})")
    for kind, count in counts.items():
        if count > COMMANDS_LIMITS[kind]:
            form.add(
                (),
                "APPLICATION_COMMANDS_TOO_MANY",
                f"Must be {COMMANDS_LIMITS[kind]} or fewer commands of type {kind}.",
            )
    return (400, invalid_form(form.problems)) if form.problems else None


def check_choices(data: Any, option_type: int) -> Refusal | None:
    """An autocomplete answer (callback type 8): up to 25 choices, each named 1-100 characters, with a value of
    the focused option's type (a string of at most 100 characters)."""
    form = Form()
    body = form.mapping(("data",), data, required=True)
    if body is None:
        return 400, invalid_form(form.problems)
    choices = form.array(("data", "choices"), body.get("choices"), high=CHOICES_LIMIT, required=True)
    for index, item in enumerate(choices or []):
        at = ("data", "choices", str(index))
        choice = form.mapping(at, item, required=True)
        if choice is None:
            continue
        form.string((*at, "name"), choice.get("name"), low=1, high=CHOICE_NAME, required=True)
        value = choice.get("value")
        if value is None:
            form.required((*at, "value"))
        elif option_type == 3:
            form.string((*at, "value"), value, high=CHOICE_VALUE)
        elif option_type == 4:
            form.integer((*at, "value"), value, low=-(2**53), high=2**53)
        elif isinstance(value, bool) or not isinstance(value, int | float):
            form.add((*at, "value"), "NUMBER_TYPE_COERCE", f'Value "{value}" is not a valid number.')
    return (400, invalid_form(form.problems)) if form.problems else None
