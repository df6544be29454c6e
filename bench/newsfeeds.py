"""Realistic news feeds for benchmarks (and a test), each served from a loopback address of its own.

Why not random words: matching cost depends on what real text holds. Real English feeds are full of curly quotes,
dashes and accented names (most items hold a non-ASCII character), talk about Israel, Gaza and the Gulf every day
without a normalization angle, and use the default topic's anchor words in other senses ("trade agreement",
"middle class", "facial recognition", "Oman" inside "woman"). A vocabulary that avoids all that measures nothing.

The text is written here from templates in the style of real items (the shapes of ../shared/corpus: a headline of
about 65 characters, a summary of one or two sentences, or several HTML paragraphs for feeds that put the article
in the feed), not copied from it. Feeds come in four kinds, by index: short RSS descriptions (BBC, Al Jazeera),
long HTML descriptions with content:encoded (WordPress outlets), Atom, and Google News searches (a headline
suffixed with the outlet); every 20th feed is in Arabic, Hebrew or Russian. Every feed holds a few items about
normalization, drawn from a handful of events told by many outlets (so stories gather articles), and a few that
use the topic's words without being about it.

Everything is deterministic for (index, seed, now). `FeedServer` runs the server in a process of its own, as a
remote site would be, serving feed i at `feed_url(i, port)` on 127.0.<1 + i // 250>.<1 + i % 250>.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import random
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from typing import Any

BASE = datetime(2025, 11, 6, 12, 0, tzinfo=UTC)
ITEMS = 50  # the mean; a feed holds 30 to 70 items
KINDS = ("short", "long", "atom", "google")
LANGUAGES = ("ar", "he", "ru")

# --- who, where, what -------------------------------------------------------------------------------------------


def _names(joined: str) -> tuple[str, ...]:
    return tuple(joined.split("|"))


PEOPLE = _names(
    "Recep Tayyip Erdoğan|Emmanuel Macron|Volodymyr Zelenskyy|Pedro Sánchez|Viktor Orbán"
    "|Luiz Inácio Lula da Silva|Ursula von der Leyen|António Guterres|Keir Starmer|Friedrich Merz"
    "|Narendra Modi|Mohammed bin Salman|Benjamin Netanyahu|Isaac Herzog|Kassym-Jomart Tokayev"
    "|Ilham Aliyev|Nikol Pashinyan|Claudia Sheinbaum|Javier Milei|Gustavo Petro|Mette Frederiksen"
    "|Jonas Gahr Støre|Donald Tusk|Giorgia Meloni|Abdel Fattah al-Sisi|Sheikh Tamim bin Hamad Al Thani"
    "|Masoud Pezeshkian|Cyril Ramaphosa|William Ruto|Prabowo Subianto|Anwar Ibrahim|Xi Jinping"
    "|Vladimir Putin|Donald Trump|Marco Rubio|Aleksandar Vučić|Andrej Plenković|Björn Höcke|Gaël Monfils"
    "|Iga Świątek|Kylian Mbappé|Martin Ødegaard|Erling Haaland|Zoë Kravitz|Penélope Cruz"
    "|Raphaël Glucksmann|José Raúl Mulino|Lech Wałęsa"
)
PLACES = _names(
    "Gdańsk|São Paulo|Bogotá|Kraków|Malmö|Zürich|Reykjavík|Türkiye|Québec|Curaçao|Côte d’Ivoire|Medellín"
    "|Düsseldorf|Córdoba|Tromsø|Łódź|Kyiv|Kharkiv|Odesa|Beirut|Damascus|Tehran|Doha|Cairo|Amman|Baghdad"
    "|Sana’a|Khartoum|Port Sudan|Nairobi|Lagos|Johannesburg|Mumbai|Dhaka|Jakarta|Manila|Seoul|Taipei"
    "|Sydney|Lima|Mexico City|Caracas|Ottawa|Brussels|The Hague|Geneva|Warsaw|Bucharest|Belgrade|Tbilisi"
    "|Yerevan|Baku|Astana|Tashkent|Nouakchott"
)
GAZA_PLACES = ("Gaza City", "Khan Younis", "Rafah", "Deir al-Balah", "Jabalia", "Nuseirat", "Jenin", "Tulkarem")
COUNTRIES = _names(
    "Germany|France|Poland|Brazil|Mexico|Argentina|Japan|South Korea|India|Pakistan|Nigeria|Kenya"
    "|South Africa|Canada|Australia|Türkiye|Iran|Iraq|Egypt|Jordan|Qatar|Lebanon|Syria|Ukraine|Russia"
    "|China|Spain|Italy|Greece|Serbia|Georgia|Armenia"
)
ORGS = _names(
    "the UN|the World Health Organization|Amnesty International|the IMF|the European Commission"
    "|Médecins Sans Frontières|the Red Crescent|Nato|the International Criminal Court|the Bank of England"
    "|the Federal Reserve|Opec+"
)
TEAMS = ("Arsenal", "Real Madrid", "Bayern München", "Paris Saint-Germain", "Atlético Madrid", "Liverpool", "Inter")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# --- ordinary items: headlines and summary sentences by section ---------------------------------------------------

HEADLINES = {
    "mideast": (
        "Israel–Hamas war: {n} killed in strikes on {gaza}, health ministry says",
        "Israeli military says it struck Hezbollah targets in southern Lebanon",
        "Netanyahu faces mass protests in Tel Aviv over hostage deal",
        "Middle East crisis: what we know about the latest strikes on {gaza}",
        "‘We have nowhere to go’: families flee {gaza} as Israeli tanks advance",
        "Israel’s Knesset passes controversial bill on judicial appointments",
        "Iran warns Israel of ‘crushing response’ after strike near {place}",
        "Qatar and Egypt push for Gaza truce as talks resume in {place}",
        "Israeli settlers attack Palestinian village near {gaza}, witnesses say",
        "Houthis claim attack on ship in the Red Sea; US says no damage",
        "UN agency says aid to {gaza} has fallen to lowest level in months",
        "Netanyahu’s coalition partners threaten to quit over ceasefire plan",
        "Saudi Aramco profits fall as oil prices slide – but dividend holds",
        "Oman’s sultan hosts talks between US and Iranian envoys in Muscat",
        "Gulf states pledge $2bn for reconstruction after {place} earthquake",
        "Lebanon’s new government wins confidence vote in Beirut",
        "Jordan’s King Abdullah meets {person} in Amman",
        "Israeli hostages’ families march to Jerusalem – ‘bring them home now’",
    ),
    "world": (
        "{person} says {country} will ‘not be intimidated’ after {place} attack",
        "{place} floods: death toll rises to {n} as rescuers search for survivors",
        "Live: {country} election results – {person} claims victory",
        "EU and {country} reach trade agreement after years of talks",
        "{person} rules out early election as pressure grows",
        "Climate summit: countries sign declaration on methane – but not on coal",
        "Woman, {n}, charged after stabbing in {place}",
        "Ukraine war: Russian drones hit energy sites in {place}, officials say",
        "{country}’s parliament approves budget after all-night session",
        "Authorities in {place} evacuate {n},000 as wildfire spreads",
        "Facial recognition cameras to be rolled out in {place} – police",
        "{person} and {person2} agree to ‘deepen ties’ at summit in {place}",
        "The middle class is shrinking in {country}. Here’s why",
        "UN General Assembly adopts declaration on AI safety",
        "Pope Leo visits {place} – crowds of {n},000 expected",
        "Coup attempt foiled in {place}, says army spokesman",
        "{country} recalls ambassador after spying row with {country2}",
        "What’s behind the protests in {place}?",
    ),
    "business": (
        "Stock markets: FTSE 100 rises as inflation cools to {pct}%",
        "{org} warns global growth will slow to {pct}% next year",
        "Oil prices jump after Opec+ agrees output cut",
        "Airbus and {country} sign €{n}bn deal for 40 jets",
        "Shell profits hit ${n}bn as energy prices stay high",
        "Interest rates: {org} holds at {pct}% – what it means for mortgages",
        "Tech firms face new rules on AI under EU agreement",
        "Carmaker to cut {n},000 jobs in Germany as sales slump",
        "The pact that could reshape global shipping – explained",
        "Gold price hits record as investors seek safety",
    ),
    "sport": (
        "Premier League: {team} beat {team2} 3–1 to go top",
        "{athlete} wins in straight sets to reach quarter-finals",
        "Champions League: {team} and {team2} draw 2–2 in thriller",
        "Formula 1: Verstappen takes pole in {place} – Hamilton fifth",
        "{athlete} signs new deal until 2029",
        "World Cup qualifiers: {country} held 0–0 by {country2}",
        "Tour de France: Pogačar extends lead on mountain stage",
    ),
    "culture": (
        "Review: ‘{work}’ – a gripping, gorgeous debut",
        "{athlete} to star in new film by Pedro Almodóvar",
        "Quiz of the week: who was named the world’s best-paid actor?",
        "Louvre reopens wing after €{n}m renovation",
        "Booker Prize shortlist: six novels from {place} to {place2}",
        "The 10 best albums of the year – so far",
    ),
    "science": (
        "Heatwave: temperatures hit {n}°C in {place}",
        "Scientists find ancient city under the sands near {place}",
        "Measles cases rise in {country} as vaccination rates fall",
        "Nasa’s probe sends first images from Jupiter’s moon Europa",
        "Deep-sea mining: talks on rules stall in Jamaica",
        "Bird flu detected at dairy farms in {place}",
    ),
}
SENTENCES = {
    "mideast": (
        "Israel’s military said it had struck {n} targets overnight; Hamas said at least {n2} people were killed.",
        "Talks mediated by Qatar and Egypt have stalled, according to two diplomats briefed on the negotiations.",
        "The Israeli prime minister, Benjamin Netanyahu, told the Knesset the offensive would continue.",
        "Aid agencies say the humanitarian situation in {gaza} is “catastrophic” and getting worse.",
        "Hezbollah fired dozens of rockets into northern Israel, the Israel Defense Forces said.",
        "Relatives of the hostages accused the government of “abandoning” them – a charge it denies.",
        "Iran’s foreign minister said Tehran would respond “at a time of its choosing”.",
        "The strikes came hours after {person} called for restraint on all sides.",
        "Oil tankers in the Gulf were diverted after the attack, shipping firms said.",
        "Palestinian officials in Ramallah condemned the raid as a “massacre”.",
        "The UN’s relief agency said {n},000 people had been displaced in the past week alone.",
        "Israeli authorities said the crossing at Kerem Shalom would reopen on {weekday}.",
    ),
    "world": (
        "“We will not back down,” {person} told reporters in {place} on {weekday}.",
        "At least {n} people have died, according to local officials, and dozens more are missing.",
        "The agreement – the first of its kind – would take effect next year, officials said.",
        "Critics say the plan does little for the middle-income families hit hardest by rising prices.",
        "The woman, who has not been named, was arrested at the scene.",
        "{org} said it was “deeply concerned” by the reports.",
        "Polls suggest {person}’s party is on course for its worst result in decades.",
        "Opposition leaders called the vote a “sham” and vowed to challenge it in court.",
        "The talks in {place} ended without a joint declaration.",
        "Authorities said the suspect was known to the security services.",
        "Ties between the two countries have been strained since the dispute over fishing rights.",
        "The impact on farmers in the south has been severe, aid groups say.",
    ),
    "business": (
        "Shares in the company fell {pct}% in early trading in Frankfurt.",
        "Analysts expect {org} to cut rates again before the end of the year.",
        "The deal, worth about €{n}bn, still needs approval from regulators in Brussels.",
        "Consumer prices rose {pct}% in the year to October, the statistics office said.",
        "Unions said the job cuts were “a betrayal” of workers who had kept the factories running.",
        "The agreement caps tariffs at {pct}% on most goods.",
    ),
    "sport": (
        "{athlete} scored twice in the second half to seal the win.",
        "The result leaves {team} three points clear at the top of the table.",
        "“It’s a dream come true,” said {athlete} after the match.",
        "The 22-year-old has now won {n} of her last {n2} matches.",
        "Fans in {place} celebrated late into the night.",
    ),
    "culture": (
        "The film, shot in {place}, follows three sisters over one summer.",
        "Critics have called it “the most daring record of the decade”.",
        "Tickets for the exhibition sold out within hours.",
        "{athlete} said the role was “the hardest thing I’ve ever done”.",
    ),
    "science": (
        "The findings, published in Nature, suggest the site is about {n},000 years old.",
        "Researchers at the Université de Montréal and ETH Zürich led the study.",
        "Health officials urged parents to check their children’s vaccination records.",
        "Temperatures are expected to stay above {n2}°C until the weekend.",
    ),
}
SECTIONS = ("mideast", "world", "world", "business", "sport", "culture", "science")

# --- normalization events, each told by many outlets ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    """One event about normalization with Israel: headline variants (outlets word it differently) and details."""

    hours_ago: float
    headlines: tuple[str, ...]
    details: tuple[str, ...]


EVENTS = (
    Event(
        2,
        (
            "Kazakhstan to join Abraham Accords, Trump announces",
            "Kazakhstan joins the Abraham Accords in move hailed by Washington",
            "Trump says Kazakhstan will join Abraham Accords with Israel",
            "Kazakhstan set to join Abraham Accords – White House",
        ),
        (
            "President Kassym-Jomart Tokayev spoke with Benjamin Netanyahu and Donald Trump on {weekday}.",
            "Kazakhstan already has full diplomatic relations with Israel; officials in Astana called the move "
            "“a natural continuation” of that policy.",
        ),
    ),
    Event(
        9,
        (
            "Saudi Arabia and Israel edge closer to normalisation deal, officials say",
            "Saudi crown prince says normalization with Israel is ‘getting closer’",
            "Israel–Saudi normalization talks: what’s on the table",
            "US pushes Saudi Arabia to normalise ties with Israel before year’s end",
        ),
        (
            "Mohammed bin Salman said a Palestinian state remained a condition for any agreement.",
            "Riyadh and Washington are also negotiating a defence pact, diplomats say.",
        ),
    ),
    Event(
        20,
        (
            "Indonesia says it could recognise Israel if a Palestinian state is recognised",
            "Prabowo: Indonesia ready to recognize Israel under two-state deal",
            "Indonesia open to Israel recognition, president tells UN",
        ),
        (
            "Prabowo Subianto told the UN General Assembly that Jakarta would then “recognize Israel”.",
            "Indonesia, the world’s most populous Muslim-majority country, has no diplomatic relations with Israel.",
        ),
    ),
    Event(
        30,
        (
            "Mauritania in talks to join Abraham Accords, sources say",
            "US urges Mauritania to join the Abraham Accords",
            "Mauritania weighs restoring ties with Israel under Abraham Accords",
        ),
        (
            "Nouakchott cut ties with Israel in 2010 after the Gaza war.",
            "A senior US envoy visited Nouakchott on {weekday}.",
        ),
    ),
    Event(
        40,
        (
            "Azerbaijan and Central Asian states weigh joining Abraham Accords",
            "Azerbaijan could be next to join Abraham Accords, US envoy says",
        ),
        (
            "Baku has had ties with Israel since 1992 and supplies much of its oil.",
            "Ilham Aliyev’s office declined to comment.",
        ),
    ),
    Event(
        50,
        (
            "Morocco and Israel sign defence cooperation agreement",
            "Israel, Morocco ink new accord on trade and tourism",
        ),
        (
            "The agreement builds on the normalisation of relations in 2020 under the Abraham Accords.",
            "Flights between Tel Aviv and Marrakech have resumed, the airlines said.",
        ),
    ),
)

# --- other languages: the built-in sources include Google News searches in Arabic, Hebrew and Russian ------------

FOREIGN = {
    "ar": {
        "headlines": (
            "غارات إسرائيلية على {gaza_ar} ومقتل {n} فلسطينيين",
            "وزير الخارجية السعودي يزور القاهرة لبحث الأوضاع في غزة",
            "ارتفاع أسعار النفط بعد قرار أوبك+ خفض الإنتاج",
            "الرئيس الفرنسي إيمانويل ماكرون يصل إلى الرياض في زيارة رسمية",
            "مجلس الأمن يعقد جلسة طارئة بشأن السودان",
            "الإمارات تستضيف قمة المناخ المقبلة في أبوظبي",
            "المنتخب المغربي يفوز على نظيره المصري بهدفين",
            "موجة حر تضرب العراق ودرجات الحرارة تتجاوز {n} درجة",
        ),
        "sentences": (
            "قال مسؤولون إن المفاوضات ستستمر الأسبوع المقبل في الدوحة.",
            "وأكدت وزارة الصحة أن عدد الضحايا مرشح للارتفاع.",
            "وتأتي الزيارة في إطار تعزيز العلاقات الثنائية بين البلدين.",
            "وأشار البيان إلى أن الاجتماع ناقش التطورات الإقليمية.",
        ),
        "relevant": (  # the Kazakh, Saudi and Mauritanian events of EVENTS, in this order
            "كازاخستان تعلن انضمامها إلى اتفاقيات أبراهام",
            "السعودية: التطبيع مع إسرائيل مرهون بقيام دولة فلسطينية",
            "واشنطن تحث موريتانيا على الانضمام إلى الاتفاقيات الإبراهيمية",
        ),
        "gaza": ("خان يونس", "رفح", "جباليا", "دير البلح"),
        "title": "أخبار العالم",
    },
    "he": {
        "headlines": (
            "צה״ל תקף מטרות של חיזבאללה בדרום לבנון",
            "ראש הממשלה נתניהו נפגש עם שר החוץ האמריקאי בירושלים",
            "המחאה נגד ההפיכה המשטרית: אלפים הפגינו בתל אביב",
            "מחירי הדירות עלו ב-{n} אחוזים בשנה האחרונה",
            "מכבי תל אביב ניצחה את הפועל באר שבע 2:1",
            "גל חום: טמפרטורות של {n} מעלות צפויות בערבה",
            "הכנסת אישרה את התקציב בקריאה ראשונה",
        ),
        "sentences": (
            "לדברי גורמים מדיניים, השיחות יימשכו בשבוע הבא.",
            "במשטרה אמרו כי החקירה נמשכת.",
            "האירוע התרחש בשעות הלילה ואין נפגעים.",
            "הממשלה צפויה לדון בנושא בישיבתה הקרובה.",
        ),
        "relevant": (
            "קזחסטן תצטרף להסכמי אברהם, הודיע טראמפ",
            "סעודיה: נורמליזציה עם ישראל רק עם מדינה פלסטינית",
            "ארה״ב לוחצת על מאוריטניה להצטרף להסכמי אברהם",
        ),
        "gaza": ("רפיח", "חאן יונס", "ג׳באליה"),
        "title": "חדשות",
    },
    "ru": {
        "headlines": (
            "Путин провёл телефонный разговор с Токаевым",
            "В Москве выпал первый снег – синоптики предупреждают о гололёде",
            "ЦБ сохранил ключевую ставку на уровне {n}%",
            "Израиль нанёс удары по югу Ливана",
            "Сборная России по хоккею обыграла Казахстан со счётом 4:2",
            "В Астане открылся международный форум по энергетике",
            "Курс доллара опустился ниже {n} рублей",
        ),
        "sentences": (
            "Об этом сообщили в пресс-службе ведомства.",
            "По словам экспертов, ситуация остаётся напряжённой.",
            "Переговоры продолжатся на следующей неделе.",
            "В министерстве заявили, что пострадавших нет.",
        ),
        "relevant": (
            "Казахстан присоединится к Соглашениям Авраама, заявил Трамп",
            "Саудовская Аравия увязала нормализацию отношений с Израилем с созданием палестинского государства",
            "США призвали Мавританию присоединиться к соглашениям Авраама",
        ),
        "gaza": ("Рафах", "Хан-Юнис"),
        "title": "Новости",
    },
}

OUTLET_NAMES = _names(
    "Daily Courier|The Tribune|Evening Standard-Times|Le Monde diplomatique (English)|Gulf Observer"
    "|Middle East Monitor|Eurasia Review|The Nordic Post|Balkan Insight|Diário Global"
)


def address(index: int) -> str:
    """The loopback address feed `index` is served from: one host per feed, as outlets are."""
    return f"127.0.{1 + index // 250}.{1 + index % 250}"


def index_of(host: str) -> int:
    """The feed index served at `address(index)`."""
    _, _, third, fourth = host.split(".")
    return (int(third) - 1) * 250 + int(fourth) - 1


def feed_url(index: int, port: int) -> str:
    return f"http://{address(index)}:{port}/rss"


def kind_of(index: int) -> str:
    """The feed's shape; every 20th feed is in another language (Google News searches in Arabic, Hebrew, Russian)."""
    return "foreign" if index % 20 == 19 else KINDS[index % len(KINDS)]


def sources_toml(urls: list[str]) -> str:
    """A SOURCES_FILE naming these feeds."""
    return "".join(f'[[source]]\nurl = "{url}"\nname = "Outlet {number}"\n\n' for number, url in enumerate(urls))


class _Writer:
    """Fills templates for one feed with a seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def fill(self, template: str) -> str:
        rng = self.rng
        people = rng.sample(PEOPLE, 2)
        places = rng.sample(PLACES, 2)
        countries = rng.sample(COUNTRIES, 2)
        teams = rng.sample(TEAMS, 2)
        return template.format(
            person=people[0],
            person2=people[1],
            athlete=rng.choice(PEOPLE[-10:]),
            place=places[0],
            place2=places[1],
            country=countries[0],
            country2=countries[1],
            gaza=rng.choice(GAZA_PLACES),
            team=teams[0],
            team2=teams[1],
            org=rng.choice(ORGS),
            work=rng.choice(("The Salt Path", "Sirāt", "Émilia Pérez", "Anora", "Flow")),
            weekday=rng.choice(WEEKDAYS),
            n=rng.randint(2, 90),
            n2=rng.randint(2, 90),
            pct=f"{rng.randint(1, 9)}.{rng.randint(0, 9)}",
        )

    def ordinary(self) -> tuple[str, list[str]]:
        section = self.rng.choice(SECTIONS)
        title = self.fill(self.rng.choice(HEADLINES[section]))
        pool = SENTENCES[section] + SENTENCES["world"]
        return title, [self.fill(sentence) for sentence in self.rng.sample(pool, 6)]

    def relevant(self, event: Event) -> tuple[str, list[str]]:
        title = self.rng.choice(event.headlines)
        sentences = [self.fill(sentence) for sentence in event.details]
        sentences += [self.fill(s) for s in self.rng.sample(SENTENCES["mideast"], 4)]
        return title, sentences


def _paragraphs(sentences: list[str], host: str, rng: random.Random, paragraphs: int) -> str:
    """HTML paragraphs as WordPress writes them: curly quotes as numeric entities, a link in each."""
    out = []
    for number in range(paragraphs):
        chunk = sentences[number % len(sentences) :] + sentences[: number % len(sentences)]
        text = " ".join(chunk[: rng.randint(2, 4)])
        text = escape(text, quote=False).replace("’", "&#8217;").replace("“", "&#8220;").replace("”", "&#8221;")
        words = text.split(" ")
        at = rng.randrange(len(words))
        words[at] = f'<a href="https://{host}/tag/{number}">{words[at]}</a>'
        out.append(f"<p>{' '.join(words)}</p>")
    return "".join(out)


def make_feed(index: int, *, seed: int = 7, now: datetime = BASE) -> bytes:
    """Feed `index`: 30 to 70 items, deterministic for (index, seed, now)."""
    rng = random.Random(seed * 100_003 + index)
    writer = _Writer(rng)
    kind = kind_of(index)
    host = f"news{index}.example"
    outlet = f"{rng.choice(OUTLET_NAMES)} {index}"
    count = rng.randint(ITEMS - 20, ITEMS + 20)
    relevant_at = set(rng.sample(range(count), rng.randint(1, 3)))
    events = rng.sample(EVENTS, len(relevant_at))
    items: list[str] = []
    for number in range(count):
        if kind == "foreign":
            items.append(_foreign_item(index, number, host, now, rng, relevant=number in relevant_at))
            continue
        if number in relevant_at:
            event = events.pop()
            title, sentences = writer.relevant(event)
            published = now - timedelta(hours=event.hours_ago, minutes=rng.randint(-90, 90))
        else:
            title, sentences = writer.ordinary()
            published = now - timedelta(minutes=23 * number + rng.randint(0, 20))
        items.append(_item(kind, index, number, host, outlet, title, sentences, published, rng))
    return _wrap(kind, index, host, outlet, now, items)


def _item(
    kind: str,
    index: int,
    number: int,
    host: str,
    outlet: str,
    title: str,
    sentences: list[str],
    published: datetime,
    rng: random.Random,
) -> str:
    slug = "-".join(title.lower().split()[:8]).replace("’", "").replace("‘", "").replace(":", "")
    link = f"https://{host}/news/{published:%Y/%m/%d}/{slug}-{index}-{number}"
    if kind == "short":
        summary = escape(" ".join(sentences[: rng.randint(1, 2)]))
        return (
            f"<item><title>{escape(title)}</title><link>{escape(link)}?traffic_source=rss</link>"
            f'<guid isPermaLink="true">{escape(link)}</guid><description>{summary}</description>'
            f"<pubDate>{format_datetime(published)}</pubDate></item>"
        )
    if kind == "long":
        lead = _paragraphs(sentences, host, rng, rng.randint(2, 6))
        body = lead + _paragraphs(sentences[::-1], host, rng, rng.randint(3, 8))
        return (
            f"<item><title>{escape(title)}</title><link>{escape(link)}?utm_source=rss&amp;utm_medium=rss</link>"
            f"<dc:creator><![CDATA[{rng.choice(PEOPLE)}]]></dc:creator><pubDate>{format_datetime(published)}</pubDate>"
            f"<category><![CDATA[World]]></category><category><![CDATA[{rng.choice(COUNTRIES)}]]></category>"
            f'<guid isPermaLink="false">https://{host}/?p={index * 1000 + number}</guid>'
            f'<description><![CDATA[{lead}<p>The post <a href="{link}">{escape(title)}</a> appeared first on '
            f'<a href="https://{host}">{escape(outlet)}</a>.</p>]]></description>'
            f"<content:encoded><![CDATA[{body}]]></content:encoded>"
            f'<media:content url="https://{host}/img/{number}.jpg" medium="image" width="1200" height="675"/></item>'
        )
    if kind == "atom":
        summary = escape(" ".join(sentences[: rng.randint(1, 3)]))
        content = escape(_paragraphs(sentences, host, rng, rng.randint(2, 5)))
        stamp = published.isoformat().replace("+00:00", "Z")
        return (
            f'<entry><title type="html">{escape(title)}</title><link rel="alternate" href="{escape(link)}"/>'
            f"<id>tag:{host},2025:{index}-{number}</id><published>{stamp}</published><updated>{stamp}</updated>"
            f"<author><name>{escape(rng.choice(PEOPLE))}</name></author>"
            f'<summary type="html">{summary}</summary><content type="html">{content}</content></entry>'
        )
    # a Google News search: the outlet after the headline, and a description that repeats both
    gnews = f"https://news.google.com/rss/articles/CBMi{hashlib.sha1(link.encode()).hexdigest()}?oc=5"
    description = (
        f'<a href="{escape(gnews)}" target="_blank">{escape(title)}</a>&nbsp;&nbsp;'
        f'<font color="#6f6f6f">{escape(outlet)}</font>'
    )
    return (
        f"<item><title>{escape(title)} - {escape(outlet)}</title><link>{escape(gnews)}</link>"
        f'<guid isPermaLink="false">CBMi{index}x{number}</guid><pubDate>{format_datetime(published)}</pubDate>'
        f"<description>{escape(description)}</description>"
        f'<source url="https://{host}">{escape(outlet)}</source></item>'
    )


def _foreign_item(index: int, number: int, host: str, now: datetime, rng: random.Random, *, relevant: bool) -> str:
    language = LANGUAGES[(index // 20) % len(LANGUAGES)]
    text = FOREIGN[language]
    fill = {"n": rng.randint(2, 90), "gaza_ar": rng.choice(text["gaza"])}
    if relevant:
        which = rng.randrange(3)
        title = text["relevant"][which]
        published = now - timedelta(hours=EVENTS[(0, 1, 3)[which]].hours_ago, minutes=rng.randint(-60, 60))
    else:
        title = rng.choice(text["headlines"]).format(**fill)
        published = now - timedelta(minutes=23 * number + rng.randint(0, 20))
    summary = " ".join(rng.sample(text["sentences"], 2))
    link = f"https://{host}/{language}/news/{index}-{number}"
    return (
        f"<item><title>{escape(title)}</title><link>{link}</link><guid>{link}</guid>"
        f"<description>{escape(summary)}</description><pubDate>{format_datetime(published)}</pubDate></item>"
    )


def _wrap(kind: str, index: int, host: str, outlet: str, now: datetime, items: list[str]) -> bytes:
    if kind == "atom":
        body = (
            '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">'
            f'<title>{escape(outlet)}</title><link rel="alternate" href="https://{host}/"/>'
            f'<link rel="self" href="https://{host}/atom.xml"/><id>https://{host}/</id>'
            f"<updated>{now.isoformat().replace('+00:00', 'Z')}</updated>{''.join(items)}</feed>"
        )
        return body.encode()
    title = FOREIGN[LANGUAGES[(index // 20) % len(LANGUAGES)]]["title"] if kind == "foreign" else outlet
    title = f"&quot;{escape(outlet)}&quot; - Google News" if kind == "google" else escape(title)
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/'
        'content/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/" '
        'xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
        f"<title>{title}</title><link>https://{host}/</link><description>Latest news</description>"
        f'<atom:link href="https://{host}/rss" rel="self" type="application/rss+xml"/>'
        f"<lastBuildDate>{format_datetime(now)}</lastBuildDate>{''.join(items)}</channel></rss>"
    )
    return body.encode()


# --- servers' own topics ----------------------------------------------------------------------------------------

_TOPIC_COUNTRIES = (
    ("Saudi", "Saudi Arabia", "السعودية", "סעודיה", "Саудовская"),
    ("Kazakh*", "Kazakhstan", "كازاخستان", "קזחסטן", "Казахстан"),
    ("Indonesia*", "Indonesia", "إندونيسيا", "אינדונזיה", "Индонезия"),
    ("Oman*", "Oman", "عمان", "עומאן", "Оман"),
    ("Mauritania*", "Mauritania", "موريتانيا", "מאוריטניה", "Мавритания"),
    ("Azerbaijan*", "Azerbaijan", "أذربيجان", "אזרבייג'ן", "Азербайджан"),
    ("Morocc*", "Morocco", "المغرب", "מרוקו", "Марокко"),
    ("Sudan*", "Sudan", "السودان", "סודן", "Судан"),
    ("Bahrain*", "Bahrain", "البحرين", "בחריין", "Бахрейн"),
    ("UAE", "United Arab Emirates", "الإمارات", "האמירויות", "ОАЭ"),
    ("Syria*", "Syria", "سوريا", "סוריה", "Сирия"),
    ("Leban*", "Lebanon", "لبنان", "לבנון", "Ливан"),
    ("Somaliland", "Somaliland", "أرض الصومال", "סומלילנד", "Сомалиленд"),
    ("Kosovo*", "Kosovo", "كوسوفو", "קוסובו", "Косово"),
    ("Uzbek*", "Uzbekistan", "أوزبكستان", "אוזבקיסטן", "Узбекистан"),
    ("Pakistan*", "Pakistan", "باكستان", "פקיסטן", "Пакистан"),
    ("Niger", "Niger", "النيجر", "ניז'ר", "Нигер"),
    ("Comoros", "Comoros", "جزر القمر", "קומורו", "Коморы"),
    ("Qatar*", "Qatar", "قطر", "קטאר", "Катар"),
    ("Kuwait*", "Kuwait", "الكويت", "כווית", "Кувейт"),
)
_TOPIC_PEOPLE = _names(
    "Mohammed bin Salman|Tokayev|Prabowo|Aliyev|al-Sharaa|Mirziyoyev|Ghazouani|Mohammed bin Zayed"
    "|King Hamad|Erdoğan|Witkoff|Kushner"
)
_TOPIC_WORDS = _names(
    "embassy|ambassador*|envoy|flights|trade|investment|defen*|tourism|visa*|talks|recogni*|sanctions|summit|visit*"
)
_TOPIC_TEMPLATES = (
    "{w} normali*",
    '"{name}" (Israel OR Israeli)',
    '"Abraham Accords" {w}',
    "{w} Israel {x}",
    '"{person}" Israel*',
    "{w} ({x} OR {y})",
    "{w} -football -sport",
    "{ar} تطبيع",
    "{he} ישראל",
    "{ru} Израиль",
    '"{name}" "{person}"',
    "({w} OR {w2}) (normali* OR relations OR ties)",
)
_TOPIC_REGIONAL = (
    "Gaza (ceasefire OR truce)",
    "Hezbollah OR Lebanon",
    'Houthi* "Red Sea"',
    "Iran nuclear*",
    '"two-state solution"',
    "Knesset (vote OR ratif*)",
    '"West Bank" annex*',
    "hostage* deal",
)


def server_topics(servers: int, per_server: int, *, seed: int = 11) -> list[tuple[str, str]]:
    """Topics as servers of this bot write them with `/watch add`: mostly a country or a leader with Israel or
    normalization, in four languages, some regional, a few exclusions. Tagged "guild:name"; deterministic."""
    rng = random.Random(seed)
    topics: list[tuple[str, str]] = []
    for server in range(servers):
        for number in range(per_server):
            if rng.random() < 0.15:
                query = rng.choice(_TOPIC_REGIONAL)
            else:
                first, second = rng.sample(_TOPIC_COUNTRIES, 2)
                x, y = rng.sample(_TOPIC_WORDS, 2)
                query = rng.choice(_TOPIC_TEMPLATES).format(
                    w=first[0],
                    w2=second[0],
                    name=first[1],
                    ar=first[2],
                    he=first[3],
                    ru=first[4],
                    person=rng.choice(_TOPIC_PEOPLE),
                    x=x,
                    y=y,
                )
            topics.append((f"{1000 + server}:topic{number}", query))
    return topics


# --- serving --------------------------------------------------------------------------------------------------


def _serve(count: int, port: int, seed: int, now: datetime, ready: Any) -> None:
    """The feed server (child process): each feed on its own address, with ETag and Last-Modified."""
    import asyncio

    from aiohttp import web

    bodies = [make_feed(i, seed=seed, now=now) for i in range(count)]
    etags = [f'"{hashlib.sha1(body).hexdigest()}"' for body in bodies]
    modified = format_datetime(now, usegmt=True)
    mode = {"validators": True}

    async def feed(request: web.Request) -> web.Response:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        i = index_of(sockname[0]) if sockname else -1
        if not 0 <= i < count:
            raise web.HTTPNotFound()
        if not mode["validators"]:
            return web.Response(body=bodies[i], content_type="application/rss+xml", charset="utf-8")
        headers = {"ETag": etags[i], "Last-Modified": modified}
        if request.headers.get("If-None-Match") == etags[i] or request.headers.get("If-Modified-Since") == modified:
            return web.Response(status=304, headers=headers)
        return web.Response(body=bodies[i], content_type="application/rss+xml", charset="utf-8", headers=headers)

    async def set_mode(request: web.Request) -> web.Response:
        mode["validators"] = request.query.get("validators") != "0"
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/rss", feed)
        app.router.add_post("/mode", set_mode)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        for i in range(count):
            await web.TCPSite(runner, address(i), port, backlog=512).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def free_port() -> int:
    """A port free on the first feed address (the others are unused addresses, so free as well)."""
    with socket.socket() as probe:
        probe.bind((address(0), 0))
        return int(probe.getsockname()[1])


class FeedServer:
    """`count` feeds served by a process of their own until `stop()`; `urls` lists them."""

    def __init__(self, count: int, *, seed: int = 7, now: datetime = BASE) -> None:
        self.count = count
        self.port = free_port()
        ready = multiprocessing.get_context("spawn").Event()
        self._process = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(count, self.port, seed, now, ready), daemon=True
        )
        self._process.start()
        if not ready.wait(120):
            self.stop()
            raise RuntimeError("the feed server did not start within 120 s")
        self.urls = [feed_url(i, self.port) for i in range(count)]
        # POST it with 1 or 0 appended: feeds are served with ETag and Last-Modified, or without
        self.mode_url = f"http://{address(0)}:{self.port}/mode?validators="

    def stop(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(10)

    def __enter__(self) -> FeedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
