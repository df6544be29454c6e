"""The news engine: sources, fetching, parsing, identity, topics, countries, events, stories. No Discord here."""
