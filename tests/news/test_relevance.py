"""The built-in topic on the error classes seen on news it was never tuned on (issue 12).

The headlines are written for these tests after the shapes of real ones of other years; none is from the
development corpus. Each class is a principle of DEFAULT_TOPIC (bot/news/topics.py), tested both ways.
"""

import pytest

from bot.news.topics import default_query


@pytest.mark.parametrize(
    ("title", "summary"),
    [
        # a country breaking or downgrading relations with Israel, whatever the country
        ("Jordan recalls its ambassador to Israel over the war", ""),
        ("Turkey recalls envoy from Israel for consultations", "Ankara said the move was a protest."),
        ("Belize suspends relations with Israel", ""),
        # a relation bound to Israel, with a partner named
        ("Riyadh puts Israel deal on hold, officials say", "Saudi officials told reporters the talks can wait."),
        ("Bahrain says peace with Israel stands", ""),
        ("Sudan and Israel finalise text of peace agreement", "The deal will be signed later, the Sudanese side said."),
        ("Emirati minister: ties with Israel are here to stay", "The UAE official spoke in Abu Dhabi."),
        # Israel and a partner as joint subjects of an act of relations
        ("Israel and Morocco sign defence cooperation agreement", ""),
        ("Bahrain and Israel open embassies", ""),
        # the same with a comma, as headlines often write it
        ("Israel, Morocco ink new accord on trade and tourism", ""),
        ("UAE, Israel agree to open embassies", ""),
        # an Israeli official's visit to a partner, or a first visit
        ("Israeli defence minister lands in Manama", "Bahrain hosts the first such trip."),
        ("Moroccan foreign minister makes first official visit to Israel", ""),
        # refusals and conditions are news of the relation too
        ("Indonesia will not recognise Israel without a Palestinian state", ""),
    ],
)
def test_normalization_news_is_relevant(title: str, summary: str) -> None:
    assert default_query().match(title, summary), title


@pytest.mark.parametrize(
    ("title", "summary"),
    [
        # conflict news that names Israel and a Gulf state side by side
        ("Arab summit in Riyadh condemns Israeli strike on Doha", "Gulf leaders called for an emergency session."),
        ("Israeli army objects to US sale of F-35 jets to the UAE", "The sale follows last month's peace deal."),
        ("Saudi Arabia and UAE welcome Gaza peace deal between Israel and Hamas", "A truce begins on Friday."),
        ("Netanyahu faces protests; Saudi Aramco strengthens ties with China", "Also in today's newsletter."),
        ("Houthis fire missiles at Israel and Saudi Arabia", "Iran's allies opened a new front."),
        ("Was the killing the opening shot of a war?", "Trump and his hardline Israeli and Saudi allies agree."),
        # celebrity and boycott stories that mention Israel
        ("Model criticised in Dubai over post about Israel boycott", "The UAE-based brand dropped the campaign."),
        ("Singer cancels Tel Aviv show as Bahrain festival adds date", ""),
        # relations between two other countries
        ("Saudi Arabia and Iran agree to restore diplomatic ties", "China brokered the deal."),
    ],
)
def test_news_that_only_names_israel_and_a_partner_is_not(title: str, summary: str) -> None:
    assert default_query().match(title, summary) is None, title
