"""The Discord edge: the client, one module per command group, rendering to embeds, sending."""
