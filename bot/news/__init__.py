"""The news engine: sources, fetching, parsing, identity, topics, countries, events, stories. No Discord here."""

from bot.native import news_path

# A module compiled by mypyc is imported in place of its source when the build is current (bot.native).
__path__ = news_path(__path__)
