"""The compiled news core (bot/native.py): used only when built from these sources, and working as they work."""

from __future__ import annotations

import copyreg
import dataclasses
import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from bot import native

ROOT = Path(__file__).resolve().parent.parent

# What the compiled modules make of every saved and hand-made feed (malformed, hostile, other formats included) and of
# the bench's realistic feeds: parsed and tagged as a worker does, with a server's topic beside the default one, each
# result and the matcher taken through pickle as they cross to and from the workers, then the matched articles
# clustered into stories: one digest of it all.
_READ_ALL = """
import hashlib, pickle, sys
from datetime import datetime, timezone
from pathlib import Path
from bench.newsfeeds import feed_url, make_feed
from bot import native
from bot.news.jobs import parse_and_tag_body
from bot.news.matching import Topic, TopicMatcher
from bot.news.models import Article, Source
from bot.news.parse import draft_feed
from bot.news.stories import Clusterer
from bot.news.topics import parse_query

digest = hashlib.sha256()
now = datetime(2026, 12, 1, tzinfo=timezone.utc)
topic = Topic("gulf", parse_query('saudi OR emirat* OR "abraham accords" -football'))
matcher = pickle.loads(pickle.dumps(TopicMatcher([topic])))
clusterer = Clusterer()
files = sorted(Path("tests/news/feeds").iterdir()) + sorted(Path("tests/news/saved").iterdir())
bodies = [(path.read_bytes(), Source(f"https://example.com/{path.name}", path.stem)) for path in files]
bodies += [(make_feed(index), Source(feed_url(index, 8000), f"Outlet {index}")) for index in range(40)]
for body, source in bodies:
    for lean in (True, False):
        read = pickle.loads(pickle.dumps(parse_and_tag_body(body, source, None, matcher, lean=lean, parse=draft_feed)))
        digest.update(repr((read.feed, read.identities, read.taggings)).encode())  # not the CPU seconds
    for identity, entry, tagging in zip(read.identities, read.feed.entries, read.taggings):  # the full (not lean) read
        if tagging is not None:
            published = entry.published or now
            article = Article(identity, entry.title, entry.summary, source.name, published, now, source.url,
                              tagging.countries, tagging.event, tagging.topics, tagging.matched_terms)
            clusterer.place(article)
drafts = clusterer.drafts(now)
digest.update(repr(drafts).encode())
print(len(drafts), *(sys.modules[f"bot.news.{name}"].__file__ for name in native.MODULES), digest.hexdigest())
"""


def _built(directory: Path, digest: str) -> Path:
    (directory / "bot" / "news").mkdir(parents=True)
    (directory / "DIGEST").write_text(digest + "\n")
    return directory


def test_a_build_is_used_only_for_the_sources_it_was_built_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = ["/the/sources/bot/news"]
    monkeypatch.setattr(native, "_chosen", native._chosen)  # this process's own choice, put back after
    monkeypatch.setenv("ACCORD_NATIVE_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("ACCORD_NATIVE", "auto")
    assert native.state().startswith("not built")
    assert native.news_path(sources) == sources

    monkeypatch.setenv("ACCORD_NATIVE_DIR", str(_built(tmp_path / "stale", "0" * 64)))
    assert native.state().startswith("stale")
    assert native.news_path(sources) == sources  # the sources, never old code
    monkeypatch.setenv("ACCORD_NATIVE", "require")
    with pytest.raises(ImportError, match="stale"):
        native.news_path(sources)

    current = _built(tmp_path / "current", native.digest())
    monkeypatch.setenv("ACCORD_NATIVE_DIR", str(current))
    monkeypatch.setenv("ACCORD_NATIVE", "auto")
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert native.state() == "compiled"
    assert native.news_path(sources) == [str(current / "bot" / "news"), *sources]
    assert native.chosen() == "compiled"  # what the bot says at start: the choice made, not a second look
    assert str(current) in sys.path  # where the compiled modules' shared library is found

    monkeypatch.setenv("ACCORD_NATIVE", "off")
    assert native.news_path(sources) == sources
    monkeypatch.setenv("ACCORD_NATIVE", "fast")
    with pytest.raises(ImportError, match="ACCORD_NATIVE must be one of auto, off, require"):
        native.news_path(sources)


def test_the_digest_changes_with_any_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = tmp_path / "bot"
    shutil.copytree(ROOT / "bot", tree, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(native, "SOURCES", tree)
    before = native.digest()
    store = tree / "store" / "news.py"
    store.write_text(store.read_text() + "\n# an edit far from the compiled modules\n")
    assert native.digest() != before


def test_each_value_of_a_compiled_module_is_pickled_by_its_constructor() -> None:
    """mypyc's own pickling of a frozen dataclass fails (`FrozenInstanceError`), and topics, taggings and parsed feeds
    cross to and from the workers by pickle: each public frozen dataclass of a compiled module is registered with
    copyreg (`native.pickled_by_fields`), whose `reduce_by_fields` passes the fields in order, so each must be a
    positional argument."""
    checked = []
    for name in native.MODULES:
        module = importlib.import_module(f"bot.news.{name}")
        for value in vars(module).values():
            if not (
                isinstance(value, type) and value.__module__ == module.__name__ and dataclasses.is_dataclass(value)
            ):
                continue
            if value.__name__.startswith("_") or not value.__dataclass_params__.frozen:  # type: ignore[attr-defined]
                continue
            checked.append(value.__name__)
            reducer = copyreg.dispatch_table.get(value)
            assert reducer is native.reduce_by_fields, f"{module.__name__}.{value.__name__} is not registered"
            assert all(field.init and not field.kw_only for field in dataclasses.fields(value)), value
    assert {"Atom", "Tagging", "Topic", "Query", "ParsedBody", "StoryDraft"} <= set(checked)


def _read_all(env: dict[str, str]) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _READ_ALL], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@pytest.mark.skipif(importlib.util.find_spec("mypyc") is None, reason="mypyc (mypy) is not installed")
@pytest.mark.skipif(
    shutil.which((sysconfig.get_config_var("CC") or "cc").split()[0]) is None, reason="no C compiler on PATH"
)
@pytest.mark.timeout(900)  # mypyc compiles nine modules: about a minute and a half on a 2-core machine, more when busy
def test_the_compiled_modules_read_tag_and_cluster_every_feed_as_their_sources(tmp_path: Path) -> None:
    target = native.build(tmp_path / "native")
    env = {**os.environ, "ACCORD_NATIVE_DIR": str(target)}
    stories, *compiled_files, compiled = _read_all({**env, "ACCORD_NATIVE": "require"})
    _, *source_files, sources = _read_all({**env, "ACCORD_NATIVE": "off"})
    assert int(stories) > 10  # the feeds' relevant items made stories
    assert len(compiled_files) == len(native.MODULES)
    assert all(name.startswith(str(target)) for name in compiled_files)  # the compiled modules were read
    assert all(name.endswith(".py") for name in source_files)
    assert compiled == sources


def test_dev_py_run_compiles_once_for_each_version_of_the_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python3 dev.py run` builds when the build is missing or stale, and does not try again at every start a
    build that failed for these same sources."""
    sys.path.insert(0, str(ROOT))
    try:
        import dev
    finally:
        sys.path.remove(str(ROOT))
    answers = {"compiled": "False", "digest": "a" * 64, "build": 1}
    builds: list[str] = []

    def asked(*args: object, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess([], 0, f"{answers['compiled']} {answers['digest']}\n", "")

    def compile_native(args: list[str]) -> int:
        builds.append(str(answers["digest"]))
        return int(answers["build"])

    monkeypatch.setattr(dev.subprocess, "run", asked)
    monkeypatch.setattr(dev, "compile_native", compile_native)
    monkeypatch.setattr(dev, "FAILED_BUILD", tmp_path / "build" / "native-failed")
    dev._compile_if_stale()
    dev._compile_if_stale()
    assert builds == ["a" * 64]  # failed once, not tried again for these sources
    answers.update(digest="b" * 64, build=0)
    dev._compile_if_stale()
    assert builds == ["a" * 64, "b" * 64]  # the sources changed: tried again
    answers.update(compiled="True")
    dev._compile_if_stale()
    assert len(builds) == 2  # current: nothing to do
