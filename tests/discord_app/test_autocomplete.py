"""Every autocomplete handler of the bot, run by the real bot against the emulator, with the longest names it
can produce: Discord refuses a choice whose name is not 1-100 characters or whose value is over 100 (issue 11,
item 2), and the emulator now does too. A choice's value must also work when the command runs with it."""

from __future__ import annotations

from zoneinfo import available_timezones

from bot.accords import load_knowledge
from bot.delivery.timezones import timezone_choices
from bot.discord_app.client import AccordWatchBot
from bot.discord_app.cogs.timeline import kind_label
from tests.discord_emulator.fixtures import EmulatorHandle, bot, bot_settings, emulator, sources_file

__all__ = ["bot", "bot_settings", "emulator", "sources_file"]

KNOWLEDGE = load_knowledge()


def within_limits(choices: list[dict[str, object]]) -> None:
    assert choices
    assert len(choices) <= 25
    for choice in choices:
        assert 1 <= len(str(choice["name"])) <= 100
        assert len(str(choice["value"])) <= 100


async def guild_id(emulator: EmulatorHandle) -> int:
    return int((await emulator.state())["guilds"][0]["id"])


async def test_sources_longest_names_and_urls(emulator: EmulatorHandle, bot: AccordWatchBot) -> None:
    guild = await guild_id(emulator)
    delivery = bot.services.delivery
    long_url = "https://feeds.example.org/" + "very-long-path/" * 130  # 2,000 characters
    await delivery.add_source(guild, long_url, "Долгое имя ленты — " + "новости " * 30)  # a 200-character name
    await delivery.add_source(guild, "https://example.org/" + "p" * 150, "Short unique name")
    await delivery.add_source(guild, "https://example.org/feed.xml", "x" * 200)
    choices = await emulator.autocomplete("sources", "source", {"source": ""}, user="admin", subcommand="remove")
    within_limits(choices)
    values = [str(c["value"]) for c in choices]
    # the long URL with a long name cannot be named in 100 characters: not offered (its URL typed in full works)
    assert values == ["Short unique name", "https://example.org/feed.xml"]
    for value in values:  # each offered value removes its source
        answer = await emulator.ask("sources", {"source": value}, subcommand="remove", user="admin")
        assert answer["messages"][0]["content"].startswith("Removed"), answer
    answer = await emulator.ask("sources", {"source": long_url}, subcommand="remove", user="admin")
    assert answer["messages"][0]["content"].startswith("Removed"), answer


async def test_topic_names_of_32_characters(emulator: EmulatorHandle, bot: AccordWatchBot) -> None:
    guild = await guild_id(emulator)
    longest = "normalization-talks-saudi-arabia"
    assert len(longest) == 32
    await bot.services.delivery.add_topic(guild, longest, '"Saudi Arabia" normaliz*')
    for command, subcommand, user in (("watch", "remove", "admin"), ("latest", None, "member")):
        focused = "name" if command == "watch" else "topic"
        choices = await emulator.autocomplete(command, focused, {focused: "saudi"}, user=user, subcommand=subcommand)
        within_limits(choices)
        assert [c["value"] for c in choices] == [longest]


async def test_the_longest_timezone(emulator: EmulatorHandle, bot: AccordWatchBot) -> None:
    longest = max(available_timezones(), key=len)
    assert timezone_choices(longest)[0] == longest
    for typed in (longest, "america", ""):
        choices = await emulator.autocomplete("subscribe", "timezone", {"timezone": typed}, user="admin")
        within_limits(choices)
    choices = await emulator.autocomplete("subscribe", "timezone", {"timezone": longest}, user="admin")
    assert choices[0]["value"] == longest


async def test_the_longest_country_and_kind(emulator: EmulatorHandle, bot: AccordWatchBot) -> None:
    countries = [m.country for m in KNOWLEDGE.members] + [c for e in KNOWLEDGE.events for c in e.countries]
    longest_country = max((c.name for c in countries), key=len)
    choices = await emulator.autocomplete("timeline", "country", {"country": longest_country})
    within_limits(choices)
    assert choices[0]["value"] == longest_country
    longest_kind = max(KNOWLEDGE.kinds, key=lambda kind: len(kind_label(kind)))
    choices = await emulator.autocomplete("timeline", "kind", {"kind": longest_kind})
    within_limits(choices)
    assert choices[0]["value"] == longest_kind
    for typed in ("", "a"):  # every choice the handlers can offer at once
        within_limits(await emulator.autocomplete("timeline", "country", {"country": typed}))
        within_limits(await emulator.autocomplete("timeline", "kind", {"kind": typed}))
