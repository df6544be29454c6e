"""Message components as Discord checks them: legacy action rows, and Components V2 (flag IS_COMPONENTS_V2).

Legacy messages hold up to 5 action rows of up to 5 buttons, or one select. A V2 message is made of components
only (text displays, sections, containers...), at most 40 of them counted at every depth, with at most 4000
characters of text. Discord gives each component a numeric `id` when the sender did not (1, 2, ... in reading
order), and answers with it; `with_ids` does the same.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from tests.discord_emulator.forms import HTTP, HTTP_OR_ATTACHMENT, Form, Path, is_integer

ROW, BUTTON, STRING_SELECT, TEXT_INPUT = 1, 2, 3, 4
SELECTS = (3, 5, 6, 7, 8)
SECTION, TEXT_DISPLAY, THUMBNAIL, MEDIA_GALLERY, FILE, SEPARATOR, CONTAINER = 9, 10, 11, 12, 13, 14, 17
V2_TOP_LEVEL = (ROW, SECTION, TEXT_DISPLAY, MEDIA_GALLERY, FILE, SEPARATOR, CONTAINER)
IN_CONTAINER = (ROW, SECTION, TEXT_DISPLAY, MEDIA_GALLERY, FILE, SEPARATOR)
LEGACY_ROWS = 5
V2_COMPONENTS = 40
V2_TEXT = 4000
LINK_STYLE, PREMIUM_STYLE = 5, 6
BUTTON_STYLES = (1, 2, 3, 4, 5, 6)
LINK_SCHEMES = (*HTTP, "discord")


def walk(components: Any) -> Iterator[dict[str, Any]]:
    """Every component at every depth, in reading order (rows' children, sections' texts then accessory...)."""
    if not isinstance(components, list):
        return
    for component in components:
        if not isinstance(component, dict):
            continue
        yield component
        yield from walk(component.get("components"))
        accessory = component.get("accessory")
        if isinstance(accessory, dict):
            yield accessory


def with_ids(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy where every component has an `id`: the sender's, else the next free number in reading order."""
    result = copy.deepcopy(components)
    taken = {c["id"] for c in walk(result) if is_integer(c.get("id")) and c["id"] > 0}
    number = 0
    for component in walk(result):
        if is_integer(component.get("id")) and component["id"] > 0:
            continue
        number += 1
        while number in taken:
            number += 1
        component["id"] = number
    return result


def texts(components: Any) -> list[str]:
    """The text displays' content: what can mention someone in a V2 message."""
    return [
        c["content"] for c in walk(components) if c.get("type") == TEXT_DISPLAY and isinstance(c.get("content"), str)
    ]


def find(components: Any, custom_id: str) -> dict[str, Any] | None:
    return next((dict(c) for c in walk(components) if c.get("custom_id") == custom_id), None)


class ComponentCheck:
    """One message's components; `check` records the problems in `form`."""

    def __init__(self, form: Form, *, v2: bool) -> None:
        self.form = form
        self.v2 = v2
        self.custom_ids: set[str] = set()
        self.ids: set[int] = set()
        self.count = 0
        self.text = 0

    def check(self, value: Any, at: Path) -> None:
        limit = V2_COMPONENTS if self.v2 else LEGACY_ROWS
        components = self.form.array(at, value, high=limit)
        if components is None:
            return
        allowed = V2_TOP_LEVEL if self.v2 else (ROW,)
        for index, component in enumerate(components):
            self.component((*at, str(index)), component, allowed)
        if self.v2 and self.count > V2_COMPONENTS:
            self.form.add(at, "MAX_COMPONENTS", f"Must be {V2_COMPONENTS} or fewer in total.")
        if self.text > V2_TEXT:
            self.form.add(
                at, "MAX_TEXT_DISPLAY_LENGTH", f"Text displays must hold {V2_TEXT} or fewer characters in total."
            )

    def component(self, at: Path, value: Any, allowed: tuple[int, ...]) -> None:
        component = self.form.mapping(at, value, required=True)
        if component is None:
            return
        self.count += 1
        kind = self.form.integer((*at, "type"), component.get("type"), required=True)
        if kind is None:
            return
        if kind not in allowed:
            shown = ", ".join(map(str, allowed)) + ("," if len(allowed) == 1 else "")
            self.form.add((*at, "type"), "UNION_TYPE_CHOICES", f'Value of field "type" must be one of ({shown}).')
            return
        number = self.form.integer((*at, "id"), component.get("id"), low=0, high=2**31 - 1)
        if number:
            if number in self.ids:
                self.form.add((*at, "id"), "COMPONENT_ID_DUPLICATED", "Component id cannot be duplicated")
            self.ids.add(number)
        if kind == ROW:
            self.row(at, component)
        elif kind == BUTTON:
            self.button(at, component)
        elif kind in SELECTS:
            self.select(at, component, kind)
        elif kind == SECTION:
            self.section(at, component)
        elif kind == TEXT_DISPLAY:
            content = self.form.string((*at, "content"), component.get("content"), low=1, high=V2_TEXT, required=True)
            self.text += len(content or "")
        elif kind == THUMBNAIL:
            self.media((*at, "media"), component.get("media"), HTTP_OR_ATTACHMENT)
            self.form.string((*at, "description"), component.get("description"), low=1, high=1024)
        elif kind == MEDIA_GALLERY:
            items = self.form.array((*at, "items"), component.get("items"), low=1, high=10, required=True)
            for index, item in enumerate(items or []):
                where = (*at, "items", str(index))
                entry = self.form.mapping(where, item, required=True)
                if entry is not None:
                    self.media((*where, "media"), entry.get("media"), HTTP_OR_ATTACHMENT)
                    self.form.string((*where, "description"), entry.get("description"), low=1, high=1024)
        elif kind == FILE:
            self.media((*at, "file"), component.get("file"), ("attachment",))
        elif kind == SEPARATOR:
            spacing = component.get("spacing")
            if spacing is not None:
                self.form.choice((*at, "spacing"), spacing, (1, 2))
            self.form.boolean((*at, "divider"), component.get("divider"))
        elif kind == CONTAINER:
            self.form.integer((*at, "accent_color"), component.get("accent_color"), low=0, high=0xFFFFFF)
            children = self.form.array((*at, "components"), component.get("components"), low=1, required=True)
            for index, child in enumerate(children or []):
                self.component((*at, "components", str(index)), child, IN_CONTAINER)

    def row(self, at: Path, row: dict[str, Any]) -> None:
        children = self.form.array((*at, "components"), row.get("components"), low=1, high=5, required=True)
        if not children:
            return
        kinds = [child.get("type") if isinstance(child, dict) else None for child in children]
        if any(kind in SELECTS for kind in kinds) and len(children) > 1:
            self.form.add(
                (*at, "components"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )
        for index, child in enumerate(children):
            self.component((*at, "components", str(index)), child, (BUTTON, *SELECTS))

    def custom_id(self, at: Path, value: Any, *, required: bool) -> None:
        custom_id = self.form.string((*at, "custom_id"), value, low=1, high=100, required=required)
        if custom_id is None:
            return
        if custom_id in self.custom_ids:
            self.form.add(
                (*at, "custom_id"), "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"
            )
        self.custom_ids.add(custom_id)

    def button(self, at: Path, button: dict[str, Any]) -> None:
        style = self.form.integer((*at, "style"), button.get("style"), required=True)
        if style is not None and style not in BUTTON_STYLES:
            self.form.choice((*at, "style"), style, BUTTON_STYLES)
            return
        self.form.string((*at, "label"), button.get("label"), high=80)
        self.form.boolean((*at, "disabled"), button.get("disabled"))
        if style == LINK_STYLE:
            if button.get("url") is None:
                self.form.add((*at, "url"), "BUTTON_COMPONENT_URL_REQUIRED", "A url is required")
            else:
                self.form.url((*at, "url"), button.get("url"), schemes=LINK_SCHEMES, high=512)
            if button.get("custom_id") is not None:
                self.form.add((*at, "custom_id"), "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED", "A custom id cannot be set")
        elif style == PREMIUM_STYLE:
            self.form.snowflake((*at, "sku_id"), button.get("sku_id"), required=True)
            for name in ("custom_id", "url", "label", "emoji"):
                if button.get(name) is not None:
                    self.form.add(
                        (*at, name), "BUTTON_COMPONENT_PREMIUM_FIELD_NOT_ALLOWED", f"A premium button has no {name}"
                    )
        elif style is not None:
            if button.get("custom_id") is None:
                self.form.add((*at, "custom_id"), "BUTTON_COMPONENT_CUSTOM_ID_REQUIRED", "A custom id is required")
            else:
                self.custom_id(at, button.get("custom_id"), required=True)
            if button.get("url") is not None:
                self.form.add((*at, "url"), "BUTTON_COMPONENT_URL_NOT_ALLOWED", "A url cannot be set")

    def select(self, at: Path, select: dict[str, Any], kind: int) -> None:
        self.custom_id(at, select.get("custom_id"), required=True)
        self.form.string((*at, "placeholder"), select.get("placeholder"), high=150)
        low = self.form.integer((*at, "min_values"), select.get("min_values"), low=0, high=25)
        high = self.form.integer((*at, "max_values"), select.get("max_values"), low=1, high=25)
        if low is not None and high is not None and low > high:
            self.form.add(
                (*at, "min_values"), "SELECT_COMPONENT_MIN_VALUES_INVALID", "Must be less than or equal to max_values."
            )
        self.form.boolean((*at, "disabled"), select.get("disabled"))
        if kind != STRING_SELECT:
            return
        options = self.form.array((*at, "options"), select.get("options"), low=1, high=25, required=True)
        for index, item in enumerate(options or []):
            where = (*at, "options", str(index))
            option = self.form.mapping(where, item, required=True)
            if option is None:
                continue
            self.form.string((*where, "label"), option.get("label"), low=1, high=100, required=True)
            self.form.string((*where, "value"), option.get("value"), low=1, high=100, required=True)
            self.form.string((*where, "description"), option.get("description"), high=100)
            self.form.boolean((*where, "default"), option.get("default"))

    def section(self, at: Path, section: dict[str, Any]) -> None:
        children = self.form.array((*at, "components"), section.get("components"), low=1, high=3, required=True)
        for index, child in enumerate(children or []):
            self.component((*at, "components", str(index)), child, (TEXT_DISPLAY,))
        if section.get("accessory") is None:
            self.form.required((*at, "accessory"))
        else:
            self.component((*at, "accessory"), section.get("accessory"), (BUTTON, THUMBNAIL))

    def media(self, at: Path, value: Any, schemes: tuple[str, ...]) -> None:
        media = self.form.mapping(at, value, required=True)
        if media is not None:
            if media.get("url") is None:
                self.form.required((*at, "url"))
            else:
                self.form.url((*at, "url"), media.get("url"), schemes=schemes)
