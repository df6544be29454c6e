"""What the emulator refuses in a message, as Discord does (issue 11): embed URLs, colours and timestamps, wrong
JSON types, components, allowed mentions, replies, flags, history; and what it must not refuse (trimmed titles,
Components V2). Raw REST requests as the bot, with the error body Discord gives."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.discord_emulator.fixtures import EmulatorHandle
from tests.discord_emulator.server import Emulator
from tests.discord_emulator.validation import check_message


@pytest.fixture
async def api() -> AsyncIterator[EmulatorHandle]:
    server = Emulator()
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield EmulatorHandle(server, session)
    finally:
        await server.stop()


def leaf(body: dict[str, Any], path: str) -> list[str]:
    """The `_errors` codes at a dotted field path of a 50035 body."""
    node = body["errors"]
    for part in path.split("."):
        node = node[part]
    return [e["code"] for e in node["_errors"]]


async def post(api: EmulatorHandle, body: Any, channel: str = "general") -> tuple[int, Any]:
    channel_id = await api.channel_id(channel)
    status, data, _ = await api.rest("POST", f"/channels/{channel_id}/messages", body)
    return status, data


# 1. Embed URLs, colour, timestamp ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("embed", "path", "code"),
    [
        ({"title": "t", "url": "not a url"}, "embeds.0.url", "URL_TYPE_INVALID_SCHEME"),
        ({"title": "t", "url": "guid:abc"}, "embeds.0.url", "URL_TYPE_INVALID_SCHEME"),
        ({"title": "t", "url": "javascript:alert(1)"}, "embeds.0.url", "URL_TYPE_INVALID_SCHEME"),
        ({"title": "t", "url": "https://example.com/" + "a" * 2040}, "embeds.0.url", "BASE_TYPE_MAX_LENGTH"),
        ({"title": "t", "url": "https://"}, "embeds.0.url", "URL_TYPE_INVALID_URL"),
        ({"title": "t", "image": {"url": "nope"}}, "embeds.0.image.url", "URL_TYPE_INVALID_SCHEME"),
        (
            {"title": "t", "thumbnail": {"url": "ftp://x.org/a.png"}},
            "embeds.0.thumbnail.url",
            "URL_TYPE_INVALID_SCHEME",
        ),
        ({"author": {"name": "a", "url": "attachment://a.png"}}, "embeds.0.author.url", "URL_TYPE_INVALID_SCHEME"),
        ({"footer": {"text": "f", "icon_url": "data:x"}}, "embeds.0.footer.icon_url", "URL_TYPE_INVALID_SCHEME"),
        ({"title": "t", "color": 16777216}, "embeds.0.color", "NUMBER_TYPE_MAX"),
        ({"title": "t", "color": -1}, "embeds.0.color", "NUMBER_TYPE_MIN"),
        ({"title": "t", "timestamp": "yesterday"}, "embeds.0.timestamp", "DATE_TIME_TYPE_PARSE"),
    ],
)
async def test_an_embed_discord_refuses_is_50035_at_its_field(
    api: EmulatorHandle, embed: dict[str, Any], path: str, code: str
) -> None:
    status, body = await post(api, {"embeds": [embed]})
    assert status == 400
    assert body["code"] == 50035
    assert leaf(body, path) == [code]


async def test_a_well_formed_embed_with_every_url_is_accepted(api: EmulatorHandle) -> None:
    embed = {
        "title": "Accord",
        "url": "https://example.com/a?b=c#d",
        "color": 0xFFFFFF,
        "timestamp": "2025-11-06T10:00:00+00:00",
        "image": {"url": "attachment://map.png"},
        "thumbnail": {"url": "http://example.com/t.png"},
        "author": {"name": "BBC", "url": "https://bbc.co.uk", "icon_url": "https://bbc.co.uk/i.png"},
        "footer": {"text": "f", "icon_url": "attachment://icon.png"},
        "fields": [{"name": "n", "value": "v", "inline": True}],
    }
    status, body = await post(api, {"embeds": [embed]})
    assert status == 200, body


# 3. Wrong types are 400 / 50035, never a 500 -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"embeds": ["x"]}, "embeds.0"),
        ({"embeds": "x"}, "embeds"),
        ({"embeds": [{"title": 5}]}, "embeds.0.title"),
        ({"embeds": [{"fields": "x"}]}, "embeds.0.fields"),
        ({"embeds": [{"fields": ["x"]}]}, "embeds.0.fields.0"),
        ({"embeds": [{"footer": "x"}]}, "embeds.0.footer"),
        ({"content": "c", "components": ["x"]}, "components.0"),
        ({"content": "c", "flags": "x"}, "flags"),
        ({"content": "c", "nonce": {}}, "nonce"),
        ({"content": "c", "tts": "yes"}, "tts"),
        ({"content": "c", "allowed_mentions": "x"}, "allowed_mentions"),
        ({"content": "c", "message_reference": {"message_id": "abc"}}, "message_reference.message_id"),
    ],
)
async def test_a_wrong_type_is_50035_at_its_field(api: EmulatorHandle, body: dict[str, Any], path: str) -> None:
    status, answer = await post(api, body)
    assert status == 400
    assert answer["code"] == 50035
    assert leaf(answer, path)


async def test_wrong_types_elsewhere_are_50035(api: EmulatorHandle) -> None:
    app = api.server.application_id
    status, answer, _ = await api.rest(
        "PUT", f"/applications/{app}/commands", [{"name": "x", "description": "d", "options": "x"}]
    )
    assert (status, answer["code"], leaf(answer, "0.options")) == (400, 50035, ["LIST_TYPE_CONVERT"])
    channel_id = await api.channel_id()
    status, answer, _ = await api.rest("GET", f"/channels/{channel_id}/messages", limit="abc")
    assert (status, answer["code"], leaf(answer, "limit")) == (400, 50035, ["NUMBER_TYPE_COERCE"])
    for limit in ("0", "101"):
        status, answer, _ = await api.rest("GET", f"/channels/{channel_id}/messages", limit=limit)
        assert status == 400, limit
    status, answer, _ = await api.rest("GET", f"/channels/{channel_id}/messages", after="x")
    assert (status, leaf(answer, "after")) == (400, ["NUMBER_TYPE_COERCE"])
    status, _, _ = await api.rest("GET", "/applications/abc/commands")
    assert status == 404


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
message_fields = st.sampled_from(
    ["content", "embeds", "components", "flags", "nonce", "allowed_mentions", "message_reference", "tts"]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(message_fields, json_values, max_size=4), st.sampled_from(["channel", "interaction", "edit"]))
def test_any_json_is_judged_never_crashes(body: dict[str, Any], context: Any) -> None:
    verdict = check_message(body, context=context)
    assert verdict is None or verdict[0] == 400
    if verdict is not None:
        json.dumps(verdict[1])


embed_fields = st.sampled_from(["title", "description", "url", "color", "timestamp", "fields", "footer", "author"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(embed_fields, json_values, max_size=4), max_size=3))
def test_any_embed_is_judged_never_crashes(embeds: list[dict[str, Any]]) -> None:
    verdict = check_message({"embeds": embeds})
    assert verdict is None or verdict[0] == 400


# 4. Components ------------------------------------------------------------------------------------------


def row(*children: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(children)}


def select(options: int, **extra: Any) -> dict[str, Any]:
    items = [{"label": f"o{i}", "value": f"v{i}"} for i in range(options)]
    return {"type": 3, "custom_id": "pick", "options": items} | extra


BUTTON = {"type": 2, "style": 1, "custom_id": "b", "label": "B"}


@pytest.mark.parametrize(
    ("components", "path"),
    [
        ([row(BUTTON | {"custom_id": ""})], "components.0.components.0.custom_id"),
        ([row({"type": 2, "custom_id": "b"})], "components.0.components.0.style"),
        ([row({"type": 2, "style": 1, "label": "no id"})], "components.0.components.0.custom_id"),
        ([row({"type": 2, "style": 5, "label": "no url"})], "components.0.components.0.url"),
        (
            [row({"type": 2, "style": 5, "url": "https://a.org", "custom_id": "x"})],
            "components.0.components.0.custom_id",
        ),
        ([row(select(0))], "components.0.components.0.options"),
        ([row(select(26))], "components.0.components.0.options"),
        (
            [row(select(1) | {"options": [{"label": "l" * 101, "value": "v"}]})],
            "components.0.components.0.options.0.label",
        ),
        ([row(select(2, placeholder="p" * 151))], "components.0.components.0.placeholder"),
        ([row(select(2), BUTTON)], "components.0.components"),
        ([row(BUTTON) for _ in range(6)], "components"),
        ([{"type": 10, "content": "V2 only"}], "components.0.type"),
    ],
)
async def test_a_component_discord_refuses_is_50035(
    api: EmulatorHandle, components: list[dict[str, Any]], path: str
) -> None:
    status, body = await post(api, {"content": "c", "components": components})
    assert status == 400
    assert body["code"] == 50035
    assert leaf(body, path)


async def test_components_are_given_ids_in_reading_order(api: EmulatorHandle) -> None:
    components = [row(BUTTON, BUTTON | {"custom_id": "c", "id": 2}), row(select(2))]
    status, body = await post(api, {"content": "c", "components": components})
    assert status == 200, body
    rows = body["components"]
    assert [
        rows[0]["id"],
        *(c["id"] for c in rows[0]["components"]),
        rows[1]["id"],
        rows[1]["components"][0]["id"],
    ] == [
        1,
        3,
        2,
        4,
        5,
    ]


# 9. Not stricter than Discord ------------------------------------------------------------------------------


async def test_embed_text_is_measured_trimmed_and_stored_trimmed(api: EmulatorHandle) -> None:
    title = "T" * 256 + "    "
    status, body = await post(
        api, {"embeds": [{"title": title, "fields": [{"name": " n ", "value": "v" * 1024 + " "}]}]}
    )
    assert status == 200, body
    assert body["embeds"][0]["title"] == "T" * 256
    assert body["embeds"][0]["fields"][0]["name"] == "n"


async def test_components_v2_messages_are_accepted_and_checked(api: EmulatorHandle) -> None:
    v2 = 1 << 15
    container = {
        "type": 17,
        "accent_color": 0x236EB4,
        "components": [
            {"type": 10, "content": "## Breaking"},
            {
                "type": 9,
                "components": [{"type": 10, "content": "UAE and Israel"}],
                "accessory": {"type": 2, "style": 5, "label": "Read", "url": "https://example.com/a"},
            },
            {"type": 14, "divider": True},
            row(BUTTON),
        ],
    }
    status, body = await post(api, {"flags": v2, "components": [container]})
    assert status == 200, body
    assert body["flags"] & v2
    status, body = await post(api, {"flags": v2, "content": "legacy", "components": [container]})
    assert (status, leaf(body, "content")) == (400, ["MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2"])
    too_many = [{"type": 10, "content": "x"} for _ in range(41)]
    status, body = await post(api, {"flags": v2, "components": too_many})
    assert status == 400
    section = {"type": 9, "components": [{"type": 10, "content": "x"}]}
    status, body = await post(api, {"flags": v2, "components": [section]})
    assert (status, leaf(body, "components.0.accessory")) == (400, ["BASE_TYPE_REQUIRED"])
    status, body = await post(api, {"flags": v2, "components": [{"type": 10, "content": "x" * 4001}]})
    assert status == 400


def command(name: str, kind: int = 1) -> dict[str, Any]:
    return {"name": name, "type": kind} | ({"description": "d"} if kind == 1 else {})


async def test_command_limits_are_per_type(api: EmulatorHandle) -> None:
    app = api.server.application_id
    allowed = [command(f"c{i}") for i in range(100)]
    allowed += [command(f"User {i}", 2) for i in range(15)] + [command(f"Message {i}", 3) for i in range(15)]
    status, body, _ = await api.rest("PUT", f"/applications/{app}/commands", allowed)
    assert status == 200, body
    for extra in (command("c100"), command("User 15", 2), command("Message 15", 3)):
        await api.reset()  # the route allows 2 syncs a second
        status, body, _ = await api.rest("PUT", f"/applications/{app}/commands", [*allowed, extra])
        assert (status, body["code"]) == (400, 50035), extra


# 5. Allowed mentions: validated, and who is pinged ---------------------------------------------------------


async def test_parse_users_with_a_users_list_is_refused(api: EmulatorHandle) -> None:
    member = int((await api.state())["users"]["member"]["id"])
    mentions = {"parse": ["users"], "users": [str(member)]}
    status, body = await post(api, {"content": f"<@{member}>", "allowed_mentions": mentions})
    assert status == 400
    assert leaf(body, "allowed_mentions") == ["MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE"]
    status, body = await post(api, {"content": "x", "allowed_mentions": {"parse": ["roles"], "roles": ["1"]}})
    assert leaf(body, "allowed_mentions") == ["MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE"]
    status, body = await post(api, {"content": "x", "allowed_mentions": {"parse": ["users", "roles"], "users": []}})
    assert status == 200  # an empty list is not a conflict
    status, body = await post(api, {"content": "x", "allowed_mentions": {"parse": ["all"]}})
    assert leaf(body, "allowed_mentions.parse.0") == ["BASE_TYPE_CHOICES"]
    status, body = await post(api, {"content": "x", "allowed_mentions": {"users": [str(i) for i in range(101)]}})
    assert leaf(body, "allowed_mentions.users") == ["BASE_TYPE_MAX_LENGTH"]


async def pinged(api: EmulatorHandle, body: dict[str, Any], channel: str = "general") -> dict[str, Any]:
    status, answer = await post(api, body, channel)
    assert status == 200, answer
    [message] = [m for m in await api.channel_messages(await api.channel_id(channel)) if m["id"] == answer["id"]]
    assert [u["id"] for u in answer["mentions"]] == message["mentions"]
    assert answer["mention_roles"] == message["mention_roles"]
    return {k: message[k] for k in ("mentions", "mention_roles", "mention_everyone")}


async def test_who_a_channel_message_pings(api: EmulatorHandle) -> None:
    state = await api.state()
    member, admin = state["users"]["member"]["id"], state["users"]["admin"]["id"]
    quiet = await api.add_role("quiet")
    loud = await api.add_role("loud", mentionable=True)
    content = f"@everyone <@{member}> <@!{admin}> <@&{quiet}> <@&{loud}> <@123>"
    # No allowed_mentions: everything is parsed, but the bot may not Mention Everyone: no @everyone, and the
    # role that is not mentionable does not ping.
    assert await pinged(api, {"content": content}) == {
        "mentions": [member, admin],
        "mention_roles": [str(loud)],
        "mention_everyone": False,
    }
    assert await pinged(api, {"content": content, "allowed_mentions": {"parse": []}}) == {
        "mentions": [],
        "mention_roles": [],
        "mention_everyone": False,
    }
    only = {"parse": [], "users": [admin], "roles": [str(loud), str(quiet)]}
    assert await pinged(api, {"content": content, "allowed_mentions": only}) == {
        "mentions": [admin],
        "mention_roles": [str(loud)],
        "mention_everyone": False,
    }
    embed_only = {"content": "news", "embeds": [{"description": f"<@{member}> @everyone <@&{loud}>"}]}
    assert await pinged(api, embed_only) == {"mentions": [], "mention_roles": [], "mention_everyone": False}
    await api.call("POST", "/permissions", {"allow": ["mention_everyone"]})
    assert await pinged(api, {"content": content}) == {
        "mentions": [member, admin],
        "mention_roles": [str(quiet), str(loud)],
        "mention_everyone": True,
    }


async def test_an_edit_parses_mentions_again_with_the_defaults(api: EmulatorHandle) -> None:
    member = (await api.state())["users"]["member"]["id"]
    channel_id = await api.channel_id()
    status, sent, _ = await api.rest(
        "POST", f"/channels/{channel_id}/messages", {"content": "hi", "allowed_mentions": {"parse": []}}
    )
    assert status == 200
    status, edited, _ = await api.rest(
        "PATCH", f"/channels/{channel_id}/messages/{sent['id']}", {"content": f"hi <@{member}>"}
    )
    assert [u["id"] for u in edited["mentions"]] == [member]


# 8. Messages ----------------------------------------------------------------------------------------------


async def test_a_reply_needs_a_message_that_exists(api: EmulatorHandle) -> None:
    channel_id = await api.channel_id()
    status, body = await post(api, {"content": "re", "message_reference": {"message_id": "42"}})
    assert (status, leaf(body, "message_reference")) == (400, ["MESSAGE_REFERENCE_UNKNOWN_MESSAGE"])
    lenient = {"content": "re", "message_reference": {"message_id": "42", "fail_if_not_exists": False}}
    status, body = await post(api, lenient)
    assert (status, body["type"], "message_reference" in body) == (200, 0, False)
    status, first = await post(api, {"content": "first"})
    status, body = await post(api, {"content": "re", "message_reference": {"message_id": first["id"]}})
    assert (status, body["type"], body["referenced_message"]["id"]) == (200, 19, first["id"])
    news = await api.channel_id("news")
    elsewhere = {"content": "re", "message_reference": {"message_id": first["id"], "channel_id": str(news)}}
    status, body, _ = await api.rest("POST", f"/channels/{channel_id}/messages", elsewhere)
    assert status == 400


async def test_flags_a_channel_message_may_not_set_are_left_out(api: EmulatorHandle) -> None:
    channel_id = await api.channel_id()
    status, body = await post(api, {"content": "everyone sees this", "flags": 64 | 4})
    assert (status, body["flags"]) == (200, 4)
    status, fetched, _ = await api.rest("GET", f"/channels/{channel_id}/messages/{body['id']}")
    assert (status, fetched["content"]) == (200, "everyone sees this")


async def test_history_before_after_and_around(api: EmulatorHandle) -> None:
    channel_id = await api.channel_id()
    ids = []
    for number in range(7):
        api.server.limiter.reset()  # past the channel's 5 messages per 5 s
        ids.append((await post(api, {"content": str(number)}))[1]["id"])

    async def history(**params: str) -> list[str]:
        status, body, _ = await api.rest("GET", f"/channels/{channel_id}/messages", **params)
        assert status == 200
        return [m["id"] for m in body]

    assert await history(limit="3") == ids[6:3:-1]
    assert await history(before=ids[3], limit="2") == [ids[2], ids[1]]
    assert await history(after=ids[1], limit="2") == [ids[3], ids[2]]  # the oldest after it, newest first
    assert await history(around=ids[3], limit="3") == [ids[4], ids[3], ids[2]]
    assert await history(after=ids[6]) == []


async def test_per_route_retry_after_header_is_whole_seconds(api: EmulatorHandle) -> None:
    channel_id = await api.channel_id()
    for number in range(5):
        await post(api, {"content": str(number)})
    status, body, headers = await api.rest("POST", f"/channels/{channel_id}/messages", {"content": "sixth"})
    assert status == 429
    assert headers["Retry-After"].isdigit()
    assert int(headers["Retry-After"]) >= body["retry_after"] > 0
    assert isinstance(body["retry_after"], float)


# Faults ------------------------------------------------------------------------------------------------------


async def test_a_fault_after_the_work_posts_the_message_and_loses_the_answer(api: EmulatorHandle) -> None:
    """For a bot's "posted but never heard back" path: the message exists, the answer is an error."""
    channel_id = await api.channel_id("general")
    await api.fault("POST", r"^/channels/\d+/messages$", 503, after=True)
    status, _ = await post(api, {"content": "did it arrive?"})
    assert status == 503
    assert [m["content"] for m in await api.channel_messages(channel_id)] == ["did it arrive?"]
    status, _ = await post(api, {"content": "and this one"})
    assert status == 200  # the fault was used once
    await api.fault("POST", r"^/channels/\d+/messages$", 503)
    status, _ = await post(api, {"content": "refused before the work"})
    assert status == 503
    assert len(await api.channel_messages(channel_id)) == 2
