"""The gazetteer: which countries an article is about, from names, demonyms, capitals and leaders.

Terms are in English, Arabic, Hebrew and Russian, matched through bot.news.textnorm (so case, accents, clitic
prefixes and a trailing `*` for Russian and Arabic endings work as in topics). Where terms overlap, the longest
wins: "South Sudan" is not also Sudan, "أرض الصومال" (Somaliland) is not also Somalia. A few phrases are blockers
that claim words for no country ("Washington Post", "Latin America", "Jordan Valley", "Israel Adesanya").

Known traps left in: "Jordan" as a first name, "Turkey" the bird, "Chad" the name; Georgia is left out (the US
state), and عمان is left out because it is both Oman and Amman; "Oman" and "سلطنة عمان" are used instead.
Acronyms that are ordinary words when folded ("US" and "us") are matched case-sensitively on the raw text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from bot.native import pickled_by_fields
from bot.news.textnorm import Atom, Document, PatternIndex, pattern, tokenize

# key -> terms separated by "|"; a `*` ends a prefix. Keys are bot.countries keys.
_TERMS: dict[str, str] = {
    "IL": "Israel|Israeli|Israelis|Jerusalem|Tel Aviv|Knesset|Netanyahu|Herzog|Gantz"
    "|اسرائيل*|تل ابيب|الكنيست|نتنياهو|ישראל*|ירושלים|תל אביב|כנסת|נתניהו|израил*|иерусалим*|тель-авив*"
    "|кнессет*|нетаньяху",
    "US": "United States|America|American|Americans|Washington|White House|Trump|Biden|State Department|Pentagon"
    "|الولايات المتحدة|امريكا|اميركا|امريكي*|اميركي*|واشنطن|البيت الابيض|ترامب|بايدن"
    "|ארצות הברית|ארהב|ארה ב|אמריקה|אמריקאי*|וושינגטון|בית הלבן|טראמפ|ביידן"
    "|США|соединенн* штат*|америк*|вашингтон*|бел* дом*|трамп|трампа|трампу|трампом|трампе|байден*",
    "AE": "UAE|Emirates|Emirati|Emiratis|Abu Dhabi|Dubai|bin Zayed|MBZ"
    "|الامارات|اماراتي*|ابوظبي|ابو ظبي|دبي|بن زايد|האמירויות|אמירויות|אמירתי*|אבו דאבי|דובאי"
    "|ОАЭ|эмират*|абу-даби|дубай*|дубае",
    "BH": "Bahrain|Bahraini|Bahrainis|Manama|البحرين|بحريني*|المنامه|בחריין|בחרייני*|מנאמה|бахрейн*|манам*",
    "MA": "Morocco|Moroccan|Moroccans|Rabat|Mohammed VI|المغرب|مغربي*|الرباط|מרוקו|מרוקאי*|רבאט|марокк*|рабат*",
    "SD": "Sudan|Sudanese|Khartoum|Burhan|السودان|سوداني*|الخرطوم|البرهان|סודן|סודני*|חרטום|судан*|хартум*",
    "KZ": "Kazakhstan|Kazakh|Kazakhs|Kazakhstani|Astana|Almaty|Nur-Sultan|Tokayev|كازاخستان|كازاخي*|استانا|توكاييف"
    "|קזחסטן|קזחי*|אסטנה|טוקאייב|казахстан*|казах*|астан*|токаев*",
    "XK": "Kosovo|Kosovar|Kosovars|Kosovan|Pristina|كوسوفو|קוסובו|косов*|приштин*",
    "SOMALILAND": "Somaliland|Hargeisa|ارض الصومال|صوماليلاند|هرجيسا|סומלילנד|сомалиленд*|харгейс*",
    "EG": "Egypt|Egyptian|Egyptians|Cairo|Sisi|مصر|مصري*|القاهره|السيسي|מצרים|מצרי*|קהיר|египет*|египт*|каир*",
    "JO": "Jordan|Jordanian|Jordanians|Amman|King Abdullah|الاردن|اردني*|ירדן|ירדני*|עמאן|иордани*|амман*",
    "SA": "Saudi Arabia|Saudi|Saudis|Riyadh|Jeddah|MBS|Mohammed bin Salman|bin Salman"
    "|السعوديه|السعودي*|الرياض|جده|بن سلمان|ערב הסעודית|סעודיה|סעודי*|ריאד|ג'דה|саудовск*|эр-рияд*|рияд*"
    "|бин сальман*",
    "SY": "Syria|Syrian|Syrians|Damascus|Sharaa|سوريا|سوري*|دمشق|الشرع|סוריה|סורי*|דמשק|сирия|сирии|сирию"
    "|сирией|сирийск*|дамаск*",
    "LB": "Lebanon|Lebanese|Beirut|Hezbollah|لبنان|لبناني*|بيروت|حزب الله|לבנון|לבנוני*|ביירות|חיזבאללה"
    "|ливан*|бейрут*|хезболл*",
    "ID": "Indonesia|Indonesian|Indonesians|Jakarta|Prabowo|اندونيسيا|اندونيسي*|אינדונזיה|индонези*|джакарт*",
    "MR": "Mauritania|Mauritanian|Mauritanians|Nouakchott|Ghazouani|موريتانيا|موريتاني*|מאוריטניה|мавритани*",
    "AZ": "Azerbaijan|Azerbaijani|Azerbaijanis|Azeri|Azeris|Baku|Aliyev|اذربيجان|باكو|אזרבייג'ן|באקו"
    "|азербайджан*|баку|алиев*",
    "UZ": "Uzbekistan|Uzbek|Uzbeks|Tashkent|Mirziyoyev|اوزبكستان|אוזבקיסטן|узбекистан*|узбек*|ташкент*",
    "TM": "Turkmenistan|Turkmen|Ashgabat|تركمانستان|טורקמניסטן|туркмени*|ашхабад*",
    "TJ": "Tajikistan|Tajik|Tajiks|Dushanbe|طاجيكستان|טג'יקיסטן|таджикистан*|таджик*",
    "KG": "Kyrgyzstan|Kyrgyz|Bishkek|قيرغيزستان|קירגיזסטן|киргиз*|кыргыз*|бишкек*",
    "AM": "Armenia|Armenian|Armenians|Yerevan|Pashinyan|ارمينيا|ארמניה|армени*|ереван*|пашинян*",
    "NE": "Niger|Nigerien|Niamey|النيجر|ניז'ר|нигер|нигера|нигере",
    "SO": "Somalia|Somali|Somalis|Mogadishu|الصومال|صومالي*|مقديشو|סומליה|сомали|сомалийск*|могадишо",
    "KM": "Comoros|Comorian|جزر القمر|קומורו|комор*",
    "OM": "Oman|Omani|Omanis|Muscat|سلطنه عمان|عماني*|مسقط|עומאן|оман*|маскат*",
    "QA": "Qatar|Qatari|Qataris|Doha|قطر|قطري*|الدوحه|קטאר|קטר|דוחה|катар|катара|катаре|катару|катаром"
    "|катарск*|доха|дохе|дохи",
    "KW": "Kuwait|Kuwaiti|Kuwaitis|الكويت|كويتي*|כווית|кувейт*",
    "IQ": "Iraq|Iraqi|Iraqis|Baghdad|العراق|عراقي*|بغداد|עיראק|עיראקי*|בגדאד|ирак*|багдад*",
    "IR": "Iran|Iranian|Iranians|Tehran|Khamenei|Rouhani|Pezeshkian|ايران|ايراني*|طهران|خامنئي"
    "|איראן|איראני*|טהרן|חמינאי|иран*|тегеран*|хаменеи",
    "YE": "Yemen|Yemeni|Yemenis|Sanaa|Houthi|Houthis|اليمن|يمني*|صنعاء|الحوثي*|תימן|חות'ים|йемен*|сана|хусит*",
    "LY": "Libya|Libyan|Libyans|Tripoli|ليبيا|ليبي*|طرابلس|לוב|ливия|ливии|ливию|ливией|ливийск*|триполи",
    "TN": "Tunisia|Tunisian|Tunisians|Tunis|تونس|تونسي*|טוניסיה|тунис*",
    "DZ": "Algeria|Algerian|Algerians|Algiers|الجزائر|جزائري*|אלג'יריה|алжир*",
    "TR": "Turkey|Turkish|Türkiye|Turkiye|Turks|Ankara|Erdogan|تركيا|التركي|التركيه|انقره|اردوغان|טורקיה"
    "|טורקי*|אנקרה|ארדואן"
    "|турци*|турецк*|анкар*|эрдоган*",
    "PS": "Palestinian territories|Palestine|Palestinian|Palestinians|West Bank|Gaza|Ramallah|Hamas|Mahmoud Abbas"
    "|فلسطين|فلسطيني*|الضفه الغربيه|غزه|رام الله|حماس|פלסטין|פלסטיני*|גדה המערבית|עזה|רמאללה|חמאס"
    "|палестин*|западн* берег*|газ* сектор*|сектор* газа|хамас*",
    "RS": "Serbia|Serbian|Serbians|Serb|Serbs|Belgrade|Vucic|صربيا|סרביה|серби*|сербск*|белград*",
    "PK": "Pakistan|Pakistani|Pakistanis|Islamabad|باكستان|باكستاني*|פקיסטן|пакистан*|исламабад*",
    "MY": "Malaysia|Malaysian|Malaysians|Kuala Lumpur|ماليزيا|מלזיה|малайзи*",
    "BD": "Bangladesh|Bangladeshi|Dhaka|بنغلاديش|בנגלדש|бангладеш*",
    "AF": "Afghanistan|Afghan|Afghans|Kabul|Taliban|افغانستان|אפגניסטן|афганистан*|кабул*",
    "TD": "Chad|Chadian|N'Djamena|تشاد|צ'אד|чад|чада",
    "ML": "Mali|Malian|Bamako|مالي|מאלי|мали",
    "DJ": "Djibouti|جيبوتي|ג'יבוטי|джибути",
    "ET": "Ethiopia|Ethiopian|Ethiopians|Addis Ababa|اثيوبيا|אתיופיה|эфиопи*",
    "ER": "Eritrea|Eritrean|Eritreans|Asmara|اريتريا|אריתריאה|эритре*",
    "SS": "South Sudan|South Sudanese|Juba|جنوب السودان|דרום סודן|южн* судан*",
    "RU": "Russia|Russian|Russians|Moscow|Kremlin|Putin|روسيا|روسي*|موسكو|بوتين|רוסיה|רוסי*|מוסקבה|פוטין"
    "|росси*|москв*|кремл*|путин*",
    "CN": "China|Chinese|Beijing|Xi Jinping|الصين|صيني*|بكين|סין|בייג'ינג|китай*|китая|китае|китаю|пекин*",
    "IN": "India|Indian|Indians|New Delhi|Modi|الهند|هندي*|הודו|индия|индии|индию|индией|индийск*|нью-дели",
    "GB": "United Kingdom|Britain|British|Briton|Britons|London|Downing Street|بريطانيا|بريطاني*|المملكه المتحده|لندن"
    "|בריטניה|בריטי*|לונדון|британи*|великобритани*|британск*|лондон*",
    "FR": "France|French|Paris|Macron|فرنسا|فرنسي*|باريس|צרפת|צרפתי*|פריז|франция|франции|францию|францией"
    "|французск*|париж*|макрон*",
    "DE": "Germany|German|Germans|Berlin|Merz|Scholz|المانيا|الماني|الالماني|الالمانيه|المانيه|برلين|גרמניה"
    "|גרמני*|ברלין|германи*|немецк*|берлин*",
    "CY": "Cyprus|Cypriot|Cypriots|Nicosia|قبرص|קפריסין|кипр*",
    "GR": "Greece|Greek|Greeks|Athens|اليونان|يوناني*|יוון|יווני*|греци*|греческ*|афин*",
    "UA": "Ukraine|Ukrainian|Ukrainians|Kyiv|Kiev|Zelensky|اوكرانيا|اوكراني*|קייב|אוקראינה|אוקראיני*|украин*"
    "|киев*|киеве",
}

# phrases that claim their words for no country
_BLOCKERS = (
    "Washington Post|Washington Commanders|Latin America|Latin American|South America|South American|North America"
    "|North American|Central America|Central American|African American|African Americans|Native American"
    "|Native Americans|American football|Jordan Valley|Jordan River|Michael Jordan|Jordan Henderson|Jordan Pickford"
    "|Israel Adesanya|Israel Folau|Indian Ocean|Paris Agreement|Paris Saint-Germain|New Mexico|French fries"
    "|Turkey Day|Emirates Stadium|Emirates Cup|Emirates FA Cup|Fly Emirates"
)

# acronyms matched case-sensitively on the raw text ("US" the country, not "us" the pronoun)
_ACRONYMS: dict[str, tuple[str, ...]] = {
    "US": ("U.S.A.", "U.S.", "USA", "US"),
    "GB": ("U.K.", "UK"),
    "SA": ("KSA",),
    "AE": ("U.A.E.",),
}


@dataclass(frozen=True, slots=True)
class _Entry:
    pattern: tuple[Atom, ...]
    key: str | None  # None for a blocker


def _pattern(term: str) -> tuple[Atom, ...]:
    return pattern(term)


@cache
def _entries() -> tuple[_Entry, ...]:
    entries = [_Entry(_pattern(term), None) for term in _BLOCKERS.split("|")]
    for key, terms in _TERMS.items():
        entries.extend(_Entry(_pattern(term), key) for term in terms.split("|"))
    # longest patterns first, so that they claim their words before the shorter ones inside them
    entries.sort(key=lambda entry: -len(entry.pattern))
    return tuple(entries)


@cache
def _index() -> PatternIndex:
    return PatternIndex([entry.pattern for entry in _entries()])


@cache
def _acronym_regex() -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple(
        (re.compile("(?:" + "|".join(re.escape(form) for form in forms) + r")(?!\w)"), key)
        for key, forms in _ACRONYMS.items()
    )


# What may not stand before an acronym: a letter, a digit, "_" or a dot ("U.S." inside "AU.S." is not one).
_GLUED = re.compile(r"[\w.]")


def _acronym_starts(regex: re.Pattern[str], text: str) -> Iterator[int]:
    r"""Where `regex` finds an acronym not glued to what stands before it: what `finditer` of the regex behind
    `(?<![\w.])` finds. Why not that regex: a look-behind first keeps the engine from skipping ahead to the
    acronym's first letter, and every character of the text was tried (0.06 ms an article, as much as all the
    other country look-ups). A hit glued to the word before is passed over by one character, as the look-behind
    would be."""
    position = 0
    while (hit := regex.search(text, position)) is not None:
        start = hit.start()
        if start and _GLUED.match(text, start - 1):
            position = start + 1
            continue
        yield start
        position = max(hit.end(), start + 1)


@dataclass(frozen=True, slots=True)
class Mention:
    """One place a country is named: its key and the word position in the Document (title first)."""

    key: str
    position: int
    in_title: bool


def mentions(document: Document, title: str, summary: str = "") -> tuple[Mention, ...]:
    """Every country mention in the article, in text order (raw text is needed for case-sensitive acronyms)."""
    found: list[Mention] = []
    claimed: set[int] = set()
    entries = _entries()
    # only the entries that may occur, in the same (longest first) order: a thousand look-ups saved per article
    for index in _index().candidates(document):
        entry = entries[index]
        span = len(entry.pattern)
        for start in document.find(entry.pattern):
            cover = range(start, start + span)
            if any(position in claimed for position in cover):
                continue
            claimed.update(cover)
            if entry.key is not None:
                found.append(Mention(entry.key, start, document.in_title(start)))
    for text, in_title, base in ((title, True, 0), (summary, False, document.title_end + 1)):
        for regex, key in _acronym_regex():
            for start in _acronym_starts(regex, text):
                found.append(Mention(key, base + len(tokenize(text[:start])), in_title))
    return tuple(sorted(found, key=lambda mention: mention.position))


def rank(found: tuple[Mention, ...]) -> tuple[str, ...]:
    """Country keys by relevance: named in the title first, then the most often named, then the first named."""
    tally: dict[str, tuple[bool, int, int]] = {}
    for mention in found:
        in_title, count, first = tally.get(mention.key, (False, 0, mention.position))
        tally[mention.key] = (in_title or mention.in_title, count + 1, first)
    ranked = sorted(tally.items(), key=lambda item: (not item[1][0], -item[1][1], item[1][2]))
    return tuple(key for key, _ in ranked)


def tag_countries(title: str, summary: str = "") -> tuple[str, ...]:
    """Country keys an article mentions, most relevant first: those in the title, then by frequency."""
    return rank(mentions(Document(title, summary), title, summary))


pickled_by_fields(globals())  # compiled, frozen dataclasses need it to cross processes: see bot.native
