"""End-to-end fixtures: the Discord API emulator and the real bot started against it."""

from tests.discord_emulator.fixtures import bot, bot_settings, emulator, sources_file

__all__ = ["bot", "bot_settings", "emulator", "sources_file"]
