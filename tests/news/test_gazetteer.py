import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.countries import by_key
from bot.news import gazetteer
from bot.news.gazetteer import tag_countries


@pytest.mark.parametrize(
    ("title", "summary", "expected"),
    [
        ("Kazakhstan to join Abraham Accords, Trump says", "", ("KZ", "US")),
        ("Knesset approves UAE peace deal", "", ("IL", "AE")),
        ("Emirati minister lands in Tel Aviv", "The Abu Dhabi delegation met Netanyahu", ("AE", "IL")),
        ("Tokayev hosts envoy in Astana", "", ("KZ",)),
        ("MBS meets Sullivan in Riyadh", "", ("SA",)),
        ("Khartoum, Rabat and Manama react", "", ("SD", "MA", "BH")),
        ("South Sudan's president visits Juba market", "", ("SS",)),
        ("Somaliland celebrates in Hargeisa", "Somalia condemns the move", ("SOMALILAND", "SO")),
        ("أرض الصومال تعلن الانضمام", "", ("SOMALILAND",)),
        ("الإمارات وإسرائيل توقعان معاهدة سلام", "", ("AE", "IL")),
        ("وزير الخارجية البحريني في المنامة", "", ("BH",)),
        ("קזחסטן תצטרף להסכמי אברהם, אמר טראמפ", "", ("KZ", "US")),
        ("ראש הממשלה בבית הלבן", "", ("US",)),
        ("Казахстан присоединится к Авраамовым соглашениям", "сообщил Белый дом", ("KZ", "US")),
        ("Токаев и Нетаньяху обсудили отношения с Израилем", "", ("IL", "KZ")),
        ("Arsenal win at the Emirates Stadium", "", ()),
        ("Jordan Henderson scores twice", "", ()),
        ("Washington Post editorial on Latin America", "", ()),
        ("Join us for the debate", "", ()),
        ("U.S. envoy meets UK and KSA officials", "", ("US", "GB", "SA")),
    ],
)
def test_headline_shapes(title: str, summary: str, expected: tuple[str, ...]) -> None:
    assert tag_countries(title, summary) == expected


def test_title_first_then_frequency() -> None:
    tags = tag_countries(
        "Turkey threatens to suspend UAE ties over deal with Israel",
        "Turkey may recall its envoy from the UAE. The UAE said the UAE deal with Israel stands.",
    )
    assert tags[:3] == ("AE", "TR", "IL")


def test_every_key_is_a_known_country() -> None:
    text = (
        "Israel US UAE Bahrain Morocco Sudan Kazakhstan Kosovo Somaliland Egypt Jordan Saudi Syria Lebanon "
        "Indonesia Mauritania Azerbaijan Uzbekistan Turkmenistan Tajikistan Kyrgyzstan Armenia Niger Somalia "
        "Comoros Oman Qatar Kuwait Iraq Iran Yemen Libya Tunisia Algeria Turkey Palestine Serbia Pakistan "
        "Malaysia Bangladesh Afghanistan Chad Mali Djibouti Ethiopia Eritrea Russia China India Britain France "
        "Germany Cyprus Greece Ukraine"
    )
    tags = tag_countries(text)
    assert len(tags) == 55
    for key in tags:
        by_key(key)


_ACRONYM_TEXT = st.lists(st.sampled_from(["U", "S", "A", "K", "E", ".", "U.S.", "KSA", "UK", " ", "_", "é", "1", "x"]))


@settings(max_examples=3000, deadline=None)
@given(_ACRONYM_TEXT.map("".join))
@example("AU.S. and U.S.A., KSA_ UK")
@example("xUSA U.S.A.x U.A.E.")
def test_acronyms_are_found_where_the_look_behind_finds_them(text: str) -> None:
    """The acronyms are searched for by their first letter, and one glued to what stands before it is passed
    over (gazetteer._acronym_starts); the definition is the regex behind a look-behind."""
    for regex, _ in gazetteer._acronym_regex():
        definition = re.compile(r"(?<![\w.])" + regex.pattern)
        assert list(gazetteer._acronym_starts(regex, text)) == [hit.start() for hit in definition.finditer(text)]
