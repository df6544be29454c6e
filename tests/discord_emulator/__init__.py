"""A local Discord API emulator that the unmodified discord.py client talks to (issue 3).

`Emulator` serves REST under /api/v10, the gateway at /gateway and a control API under /_emulator.
"""

from tests.discord_emulator.server import Emulator

__all__ = ["Emulator"]
