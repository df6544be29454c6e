"""Previous/Next buttons over pre-rendered pages, for the person who asked only, until a timeout."""

from __future__ import annotations

import contextlib

import discord

REFUSAL = "Only the person who ran this command can turn its pages. Run it yourself to get your own copy."


class Pager(discord.ui.View):
    def __init__(self, pages: list[discord.Embed], *, owner_id: int, timeout: float = 300.0) -> None:
        super().__init__(timeout=timeout)
        self.pages = pages
        self.owner_id = owner_id
        self.index = 0
        self.message: discord.InteractionMessage | None = None
        self._sync_buttons()

    @property
    def current(self) -> discord.Embed:
        return self.pages[self.index]

    def _sync_buttons(self) -> None:
        self.previous.disabled = self.index == 0
        self.next.disabled = self.index >= len(self.pages) - 1

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(REFUSAL, ephemeral=True)
        return False

    async def _show(self, interaction: discord.Interaction, index: int) -> None:
        self.index = max(0, min(index, len(self.pages) - 1))
        self._sync_buttons()
        await interaction.response.edit_message(embed=self.current, view=self)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary, custom_id="pager:previous")
    async def previous(self, interaction: discord.Interaction, _button: discord.ui.Button[Pager]) -> None:
        await self._show(interaction, self.index - 1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.primary, custom_id="pager:next")
    async def next(self, interaction: discord.Interaction, _button: discord.ui.Button[Pager]) -> None:
        await self._show(interaction, self.index + 1)

    async def on_timeout(self) -> None:
        """Grey the buttons out so nobody presses a dead control."""
        self.previous.disabled = True
        self.next.disabled = True
        if self.message is not None:
            # The message may be deleted or the token expired: then there is nothing left to grey out.
            with contextlib.suppress(discord.HTTPException):
                await self.message.edit(view=self)


async def send_pages(
    interaction: discord.Interaction, pages: list[discord.Embed], *, idle: float = 300.0, ephemeral: bool = False
) -> None:
    """Answer with the first page, and buttons only when there is more than one; as a followup when the
    interaction was deferred."""
    pager = Pager(pages, owner_id=interaction.user.id, timeout=idle) if len(pages) > 1 else None
    if interaction.response.is_done():
        if pager is None:
            await interaction.followup.send(embed=pages[0], ephemeral=ephemeral)
        else:
            await interaction.followup.send(embed=pager.current, view=pager, ephemeral=ephemeral)
            pager.message = await interaction.original_response()
        return
    if pager is None:
        await interaction.response.send_message(embed=pages[0], ephemeral=ephemeral)
        return
    await interaction.response.send_message(embed=pager.current, view=pager, ephemeral=ephemeral)
    pager.message = await interaction.original_response()
