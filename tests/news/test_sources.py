"""The sources file: the built-in one is sound, and a bad operator's file says where and what is wrong."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.news.sources import BUILTIN, SourcesError, load_sources, parse_sources


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> SourcesError:
    path = write(tmp_path, text)
    with pytest.raises(SourcesError) as caught:
        load_sources(path)
    assert caught.value.file == str(path)
    return caught.value


def test_builtin_sources_are_web_addresses_with_polite_intervals() -> None:
    sources = load_sources()
    assert len(sources) >= 12
    assert len({source.url for source in sources}) == len(sources)
    for source in sources:
        parts = urlsplit(source.url)
        assert parts.scheme == "https", source.url
        assert source.trusted
        assert source.interval is not None
        assert source.interval >= 300


def test_builtin_google_news_searches_are_consistent() -> None:
    searches = [s for s in load_sources() if urlsplit(s.url).hostname == "news.google.com"]
    assert {s.language for s in searches} >= {"en", "ar", "he", "ru"}
    for search in searches:
        query = parse_qs(urlsplit(search.url).query)
        language = search.language
        assert language is not None
        assert query["hl"][0].split("-")[0] == language
        assert query["ceid"][0] == f"{query['gl'][0]}:{language}"
        assert " OR " in query["q"][0]
        assert search.interval is not None
        assert search.interval >= 600


def test_builtin_outlets_and_gdelt() -> None:
    sources = load_sources()
    hosts = {urlsplit(s.url).hostname for s in sources}
    for host in (
        "www.timesofisrael.com",
        "www.aljazeera.com",
        "www.al-monitor.com",
        "www.arabnews.com",
        "www.thenationalnews.com",
        "www.jpost.com",
        "www.state.gov",
        "api.axios.com",
    ):
        assert host in hosts
    (gdelt,) = [s for s in sources if s.kind == "gdelt"]
    query = parse_qs(urlsplit(gdelt.url).query)
    assert query["mode"] == ["ArtList"]
    assert query["format"] == ["json"]
    terms = query["query"][0]
    assert " OR " in terms
    assert terms.startswith("(")
    assert terms.index(")") > terms.rindex(" OR ")  # GDELT answers a text error to OR outside parentheses


def test_defaults(tmp_path: Path) -> None:
    (source,) = load_sources(write(tmp_path, '[[source]]\nurl = "https://feeds.example.org/rss"\n'))
    assert source.name == "feeds.example.org"
    assert source.kind == "feed"
    assert source.interval is None
    assert source.language is None
    assert source.guild_id is None


def test_all_fields(tmp_path: Path) -> None:
    text = (
        '[[source]]\nurl = "https://api.example/doc"\nname = "Doc"\nkind = "gdelt"\ninterval = 900\nlanguage = "en"\n'
    )
    (source,) = load_sources(write(tmp_path, text))
    assert (source.name, source.kind, source.interval, source.language) == ("Doc", "gdelt", 900, "en")


def test_operator_file_may_name_local_files(tmp_path: Path) -> None:
    (tmp_path / "saved").mkdir()
    text = '[[source]]\nurl = "saved/toi.xml"\n\n[[source]]\nurl = "file:///var/feeds/jpost.xml"\n'
    local, uri = load_sources(write(tmp_path, text))
    assert local.url == str(tmp_path / "saved" / "toi.xml")
    assert local.name == "toi.xml"
    assert uri.url == "file:///var/feeds/jpost.xml"
    assert uri.name == "jpost.xml"


def test_builtin_format_refuses_local_files() -> None:
    with pytest.raises(SourcesError) as caught:
        parse_sources('[[source]]\nurl = "saved/toi.xml"\n', file=BUILTIN, base=None)
    assert str(caught.value) == (
        f"{BUILTIN}, line 1: url 'saved/toi.xml': bad scheme '(none)' (expected http or https)"
    )


def test_syntax_error_gives_the_line(tmp_path: Path) -> None:
    error = error_of(tmp_path, '[[source]]\nurl = "https://a.example/rss"\n\n[[source]]\nurl = https://b\n')
    assert error.line == 5
    assert "not valid TOML" in str(error)
    assert str(error).startswith(f"{tmp_path / 'sources.toml'}, line 5: ")


GOOD = '[[source]]\nurl = "https://a.example/rss"\n\n'


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('name = "No address"\n', "missing url"),
        ('url = "ftp://b.example/rss"\n', "url 'ftp://b.example/rss': bad scheme 'ftp'"),
        ('url = "https:///rss"\n', "url 'https:///rss' has no host"),
        ('url = "https://b.example/rss"\nkind = "atom"\n', "unknown kind 'atom' (expected feed or gdelt)"),
        ('url = "https://b.example/rss"\ninterval = 0\n', "interval must be a positive whole number of seconds, not 0"),
        ('url = "https://b.example/rss"\ninterval = -60\n', "interval must be a positive whole number"),
        ('url = "https://b.example/rss"\ninterval = "600"\n', "interval must be a positive whole number"),
        ('url = "https://b.example/rss"\nintervall = 600\n', "unknown key 'intervall'"),
        ('url = "https://b.example/rss"\nname = ""\n', "name must be a non-empty string"),
        ('url = "https://a.example/rss"\n', "duplicate url 'https://a.example/rss' (first at line 1)"),
    ],
)
def test_bad_table_gives_its_header_line(tmp_path: Path, table: str, problem: str) -> None:
    error = error_of(tmp_path, GOOD + "# the second source\n[[source]]\n" + table)
    assert error.line == 5
    assert problem in error.problem


def test_unknown_top_level_key(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD + "[sources]\nurl = 'x'\n")
    assert error.line == 4
    assert "unknown top-level key 'sources'" in str(error)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(SourcesError, match="cannot read the file"):
        load_sources(tmp_path / "missing.toml")


def test_empty_file_has_no_sources(tmp_path: Path) -> None:
    assert load_sources(write(tmp_path, "# nothing yet\n")) == ()
