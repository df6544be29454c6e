"""Accord Watch: a Discord bot that follows normalization agreements with Israel in the news."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/accord-watch/accord-watch"
