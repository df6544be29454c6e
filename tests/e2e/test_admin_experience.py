"""What a new admin and a member tripped over in a trial (issue 9's list), each end to end against the emulator."""

from __future__ import annotations

from typing import Any

from tests.discord_emulator.fixtures import EmulatorHandle
from tests.e2e.newsroom import BotLauncher, Newsroom, eventually


def text_of(answer: dict[str, Any]) -> str:
    return " ".join(m["content"] for m in answer["messages"])


def shown(answer: dict[str, Any]) -> str:
    return str([(m["content"], m["embeds"]) for m in answer["messages"]])


async def test_an_offset_for_a_timezone_is_explained_with_the_right_zone(
    emulator: EmulatorHandle, bots: BotLauncher
) -> None:
    await bots.start()
    news = await emulator.channel_id("news")
    answer = await emulator.ask(
        "subscribe", {"channel": str(news), "mode": "digest", "timezone": "GMT+3"}, user="admin", wait=10
    )
    assert "for UTC+3 use Etc/GMT-3" in text_of(answer), answer  # not Etc/GMT+3, which is UTC-3
    assert "Etc/GMT+3" not in text_of(answer)
    choices = await emulator.autocomplete("subscribe", "timezone", {"timezone": "GMT+3"}, user="admin")
    assert choices == [{"name": "Etc/GMT-3 (UTC+3)", "value": "Etc/GMT-3"}]


async def test_a_threshold_of_zero_is_shown_as_zero(emulator: EmulatorHandle, bots: BotLauncher) -> None:
    await bots.start()
    news = await emulator.channel_id("news")
    answer = await emulator.ask(
        "subscribe", {"channel": str(news), "mode": "alerts", "min_importance": 0}, user="admin", wait=10
    )
    assert "alerts from importance 0 " in text_of(answer) + " ", answer
    listed = await emulator.ask("subscriptions", user="admin")
    assert "alerts from importance 0 " in shown(listed), listed


async def test_the_built_in_topic_can_be_removed_and_restored(emulator: EmulatorHandle, bots: BotLauncher) -> None:
    await bots.start()
    removed = await emulator.ask("watch", {"name": "accords"}, subcommand="remove", user="admin")
    assert "the built-in topic" in text_of(removed), removed
    assert "`/watch reset` brings it back" in text_of(removed)
    assert "watches no topic" in text_of(await emulator.ask("watch", subcommand="list", user="admin"))
    restored = await emulator.ask("watch", subcommand="reset", user="admin")
    assert "Watching the built-in topic again" in text_of(restored), restored
    assert "accords (built in)" in shown(await emulator.ask("watch", subcommand="list", user="admin"))
    again = await emulator.ask("watch", subcommand="reset", user="admin")
    assert "already watches the built-in topic" in text_of(again)


async def test_an_alert_refused_for_a_permission_is_sent_after_the_fix_and_a_new_subscribe(
    emulator: EmulatorHandle, bots: BotLauncher, newsroom: Newsroom
) -> None:
    await bots.start()
    news = await emulator.channel_id("news")
    subscription = {"channel": str(news), "mode": "alerts", "min_importance": 0}
    await emulator.ask("subscribe", subscription, user="admin", wait=10)
    await emulator.permissions(news, deny=["send_messages"])
    newsroom.publish("bbc", "cnn")

    async def status() -> str:
        return shown(await emulator.ask("status", user="admin"))

    await eventually(status, lambda text: "Missing Send Messages" in text, what="the pause in /status")
    assert await emulator.channel_messages(news) == []
    await emulator.permissions(news, allow=["send_messages"])
    again = await emulator.ask("subscribe", subscription, user="admin", wait=10)
    assert "paused" not in text_of(again)
    [alert] = await eventually(
        lambda: emulator.channel_messages(news), lambda found: len(found) == 1, what="the alert, once"
    )
    assert alert["embeds"][0]["title"].startswith("Breaking: ")
    assert "Missing Send Messages" not in await status()


async def test_a_story_number_past_any_story_is_answered_not_crashed(
    emulator: EmulatorHandle, bots: BotLauncher
) -> None:
    await bots.start()
    for number in (2**31, 2**53):  # past any story, within what Discord lets through
        answer = await emulator.ask("story", {"id": number}, user="member")
        assert answer["ephemeral"]
        assert text_of(answer) == f"There is no story {number}.", answer


async def test_members_get_hints_they_can_use(emulator: EmulatorHandle, bots: BotLauncher) -> None:
    await bots.start()
    unknown = await emulator.ask("latest", {"topic": "nope"}, user="member")
    assert text_of(unknown) == "This server watches no topic named 'nope'.", unknown
    member_help = shown(await emulator.ask("help", user="member"))
    assert "/subscribe channel:#news" not in member_help
    assert "A server admin (Manage Server) sets them up" in member_help
    assert "/subscribe channel:#news" in shown(await emulator.ask("help", user="admin"))
