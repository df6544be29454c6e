"""Point discord.py at another REST base and gateway (an HTTP proxy in front of Discord, or the emulator).

discord.py has no constructor option for either, so the class attributes are set, once, at start
(`Route.BASE` is what every REST request, webhook and interaction callback is built from;
`DiscordWebSocket.DEFAULT_GATEWAY` is the first gateway a plain `Client` connects to).
"""

from __future__ import annotations

import yarl
from discord import gateway, http


def apply(api_base: str, gateway_url: str) -> None:
    http.Route.BASE = api_base.rstrip("/")
    gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
