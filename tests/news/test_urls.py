"""Canonical URLs, outlet suffixes and article identity."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.news import urls
from bot.news.models import Entry, Source
from bot.news.parse import parse_feed
from bot.news.urls import (
    article_identity,
    canonical_url,
    host_of,
    normalise_title,
    outlet_name,
    split_outlet_suffix,
)

_QUERIES = st.lists(
    st.sampled_from(["utm_source", "id", "a", "B", "=", "&", "rss", "-", ".", "~", "_", "fbclid", "%2F", "+", "#"]),
    max_size=8,
).map(lambda parts: "?" + "".join(parts) if parts else "")

_PLAIN_SHAPES = st.builds(
    lambda space, scheme, host, dot, path, query: f"{space}{scheme}://{host}{dot}{path}{query}{space}",
    st.sampled_from(["", " ", "\t"]),
    st.sampled_from(["http", "https", "HTTP", "HTTPS", "Https"]),
    st.sampled_from(["www.Example.com", "WWW.example.com", "www", "www.", "a-b.c", "127.0.0.1", "x", "ex.co.uk"]),
    st.sampled_from(["", "."]),
    st.lists(
        st.sampled_from(["/", "a", "B", "~", ".", "_", "-", "..", "1", "%7e", "?", "#", ":", "é", "–", "€", ",", "ß"])
        | st.sampled_from([" ", "\u00a0", "\t", "\n", "\\", "'", "(", "@", "+", "=", ";", "[", "\u2028", "\x7f", "%"]),
        max_size=8,
    )
    .map("".join)
    .map(lambda path: path if not path or path.startswith("/") else "/" + path),
    st.one_of(st.just(""), st.just("?"), _QUERIES),
)


@given(_PLAIN_SHAPES)
@settings(max_examples=3000, deadline=None)
def test_the_fast_path_gives_what_parsing_gives(url: str) -> None:
    """Links of the commonest shape skip urlsplit and parse_qsl (a quarter of a feed's parse time went there)."""
    assert canonical_url(url) == urls._canonical_parsed(url.strip())


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://WWW.Reuters.COM:80/world/", "https://reuters.com/world"),
        ("https://www.reuters.com:443/world?b=2&a=1#top", "https://reuters.com/world?a=1&b=2"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/", "https://example.com/"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        (
            "https://www.theguardian.com/world/2020/sep/15/x?CMP=share_btn_tw&utm_source=rss&utm_medium=feed",
            "https://theguardian.com/world/2020/sep/15/x",
        ),
        ("https://x.com/a?fbclid=1&gclid=2&mc_cid=3&mc_eid=4&ocid=5&cmpid=6&id=7", "https://x.com/a?id=7"),
        ("https://x.com/a?at_medium=rss&at_campaign=c&ns_mchannel=m&ns_source=s&oc=5", "https://x.com/a"),
        ("https://x.com/%7euser/%e2%82%ac?q=a+b&q2=%2F", "https://x.com/~user/%E2%82%AC?q=a%20b&q2=/"),
        ("https://x.com/caf\u00e9", "https://x.com/caf%C3%A9"),
        ("https://x.com/a%2Fb", "https://x.com/a%2Fb"),  # an escaped slash is not a path separator
        ("https://user:pw@www.x.com/a", "https://x.com/a"),
        ("https://www.example.com./a", "https://example.com/a"),
        ("https://edition.cnn.com/2020/09/15/x/index.html", "https://edition.cnn.com/2020/09/15/x/index.html"),
        ("  https://x.com/a  ", "https://x.com/a"),
        ("mailto:someone@example.com", "mailto:someone@example.com"),
        ("/relative/path", "/relative/path"),
        ("https://[::1]:8080/a", "https://[::1]:8080/a"),
        ("http://[broken/a", "http://[broken/a"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_http_and_https_and_www_meet() -> None:
    variants = {
        "http://www.timesofisrael.com/kazakhstan-joins/?utm_source=feed",
        "https://timesofisrael.com/kazakhstan-joins",
        "https://www.timesofisrael.com/kazakhstan-joins/#comments",
    }
    assert {canonical_url(v) for v in variants} == {"https://timesofisrael.com/kazakhstan-joins"}


@given(st.text(max_size=80))
@settings(max_examples=500, deadline=None)
def test_canonical_url_is_idempotent_on_any_text(text: str) -> None:
    once = canonical_url(text)
    assert canonical_url(once) == once


_URL_PARTS = st.builds(
    lambda scheme, host, path, query, fragment: f"{scheme}://{host}/{path}{query and '?' + query}{fragment}",
    st.sampled_from(["http", "https", "HTTPS"]),
    st.sampled_from(["www.Example.com", "example.com:80", "example.com:443", "ex.org:8080", "[::1]", "a.b.c."]),
    st.lists(st.sampled_from(["/", "a", "%7e", "%2f", "%e2%82%ac", "é", " ", "..", "+", "%", "%zz"]), max_size=6).map(
        "".join
    ),
    st.lists(st.sampled_from(["?", "&", "=", "utm_source", "x", "CMP", "a+b", "%26", ";", "é"]), max_size=6).map(
        "".join
    ),
    st.sampled_from(["", "#", "#frag"]),
)


@given(_URL_PARTS)
@settings(max_examples=500, deadline=None)
def test_canonical_url_is_idempotent_on_url_shapes(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once
    assert "#" not in once
    assert not any(key.lower().startswith("utm_") for key, _ in parse_qsl(urlsplit(once).query))
    assert once.startswith("https://")


@pytest.mark.parametrize(
    ("title", "outlet", "expected"),
    [
        ("Kazakhstan to join Abraham Accords - Reuters", None, ("Kazakhstan to join Abraham Accords", "Reuters")),
        ("Kazakhstan to join Abraham Accords - Reuters", "Reuters", ("Kazakhstan to join Abraham Accords", "Reuters")),
        (
            "Trump says Kazakhstan will join the Abraham Accords - The Times of Israel",
            "Times of Israel",
            ("Trump says Kazakhstan will join the Abraham Accords", "The Times of Israel"),
        ),
        ("Abraham Accords at five | Al-Monitor", None, ("Abraham Accords at five", "Al-Monitor")),
        ("Israel, Bahrain sign deal - Axios.com", None, ("Israel, Bahrain sign deal", "Axios.com")),
        (
            "Israel, Bahrain sign deal - The Jerusalem Post",
            "Reuters",
            ("Israel, Bahrain sign deal - The Jerusalem Post", "Reuters"),
        ),
        # Not an outlet: lower-case words, a question, too long, or too short a headline.
        ("Israel, UAE deal - what it means", None, ("Israel, UAE deal - what it means", None)),
        ("Why now - Is This The End?", None, ("Why now - Is This The End?", None)),
        ("Gaza - Israel", None, ("Gaza - Israel", None)),
        (
            "Sudan deal explained - The Many Moving Parts Of A Fragile Agreement",
            None,
            ("Sudan deal explained - The Many Moving Parts Of A Fragile Agreement", None),
        ),
        (
            "الإمارات وإسرائيل توقعان اتفاق السلام - الجزيرة نت",
            "الجزيرة نت",
            ("الإمارات وإسرائيل توقعان اتفاق السلام", "الجزيرة نت"),
        ),
        ("No suffix at all", "Reuters", ("No suffix at all", "Reuters")),
        ("Trailing dash - ", None, ("Trailing dash -", None)),
    ],
)
def test_split_outlet_suffix(title: str, outlet: str | None, expected: tuple[str, str | None]) -> None:
    assert split_outlet_suffix(title, outlet) == expected


def test_host_of() -> None:
    assert host_of("https://www.Reuters.com/world") == "reuters.com"
    assert host_of("https://edition.cnn.com/x") == "edition.cnn.com"
    assert host_of("not a url") == ""
    assert host_of("http://[broken") == ""


@settings(max_examples=2000)
@given(st.text())
def test_normalise_title_is_its_definition_character_by_character(title: str) -> None:
    folded = unicodedata.normalize("NFKC", title).casefold()
    kept = "".join(" " if unicodedata.category(char)[0] in "PSZC" else char for char in folded)
    assert normalise_title(title) == " ".join(kept.split())


def test_normalise_title_keeps_every_script() -> None:
    assert normalise_title("  Kazakhstan’s “Accords” — JOIN!  ") == "kazakhstan s accords join"
    assert normalise_title("קזחסטן מצטרפת, להסכמי אברהם.") == "קזחסטן מצטרפת להסכמי אברהם"


def test_identity_of_plain_links_is_the_canonical_url() -> None:
    first = Entry(title="A", link="http://www.timesofisrael.com/x/?utm_source=rss")
    second = Entry(title="Other title", link="https://timesofisrael.com/x")
    assert article_identity(first) == article_identity(second) == "https://timesofisrael.com/x"


def test_identity_of_google_news_items_from_outlet_host_and_title() -> None:
    feed = parse_feed(
        (Path(__file__).parent / "feeds" / "google_news.xml").read_bytes(),
        source=Source(url="https://news.google.com/rss/search?q=x", name="Google News"),
    )
    assert [article_identity(e) for e in feed.entries] == [
        "gnews:reuters.com/kazakhstan to join abraham accords",
        "gnews:timesofisrael.com/trump says kazakhstan will join the abraham accords",
        "gnews:al monitor/what the abraham accords mean for central asia",  # no <source url>: the outlet's name
    ]
    # The same article seen in another Google News search (different redirect token) meets the first one.
    again = Entry(
        title="Kazakhstan to join Abraham Accords - Reuters",
        link="https://news.google.com/rss/articles/CBMiOtherToken?oc=5&hl=en-US",
        outlet="Reuters",
        outlet_url="https://www.reuters.com/",
    )
    assert article_identity(again) == article_identity(feed.entries[0])


def test_identity_without_link_falls_back_to_guid() -> None:
    assert article_identity(Entry(title="x", link="  ", guid="abc")) == "guid:abc"


@pytest.mark.parametrize(
    ("title", "link", "outlet"),
    [
        ("CNN.com - RSS Channel - App International Edition", "https://edition.cnn.com/", "CNN"),
        ("BBC News - Home", "https://www.bbc.co.uk/news/", "BBC News"),
        ("World news | The Guardian", "https://www.theguardian.com/world", "The Guardian"),
        ("The Times of Israel", "https://www.timesofisrael.com", "The Times of Israel"),
        ("Section - Tagline", None, "Section"),
        ("", None, None),
    ],
)
def test_outlet_name_from_feed_title(title: str, link: str | None, outlet: str | None) -> None:
    assert outlet_name(title, link) == outlet


_GOOGLE_NEWS_SHAPES = st.builds(
    lambda space, scheme, host, port, path, rest: f"{space}{scheme}://{host}{port}{path}{rest}{space}",
    st.sampled_from(["", " ", "\t"]),
    st.sampled_from(["http", "https", "HTTPS", "ftp", "hxxp"]),
    st.sampled_from(["news.google.com", "NEWS.Google.com", "news.google.com.", "news.google.co", "xnews.google.com"]),
    st.sampled_from(["", ":443", ":x", "@evil.com"]),
    st.sampled_from(["/rss/articles/", "/articles/", "/__i/rss/rd/articles/", "/RSS/articles/", "/rss/art\ticles/"])
    | st.sampled_from(["/rss/", "", "/?", "#/articles/", "/rss/articles"]),
    st.sampled_from(["", "CBMi", "?oc=5", "x y"]),
)


@given(_GOOGLE_NEWS_SHAPES)
@example("https://news.google.com/rss/articles/CBMi?oc=5")
@settings(max_examples=2000, deadline=None)
def test_a_google_news_link_is_known_as_parsing_knows_it(url: str) -> None:
    """Google News's own links are known by their start (urls._GOOGLE_NEWS_LINK) without parsing them."""
    assert urls.is_google_news_link(url) == urls._is_google_news_parsed(url)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)) | st.sampled_from(list("/%:@!$&'()*+,;=~_.-é–"))))
@example("/news/2025/11/06/what’s-behind-the-protests-in-łódź")
@example("/a b/\U0001f600/%zz/\x7f")
@settings(max_examples=2000, deadline=None)
def test_a_path_is_escaped_as_quote_escapes_it(path: str) -> None:
    """The fast path escapes a link's path by runs (urls._escaped), as urllib's quote does byte by byte."""
    assert urls._PATH_UNSAFE.sub(urls._escaped, path) == quote(path, safe=urls._PATH_SAFE)
