"""The reference implementation's tricky text and number rules, checked on their own (no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

import pytest
from reference_metrics import (
    Person,
    Tally,
    hashtags,
    hours_between,
    looks_like_question,
    median,
    metric_row,
    month_range,
    parse_time,
    salesforce_id_prefixes,
    slack_time,
    survey_score,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("Dat was Jan&#39;s idee", set()),
    ("zie https://intranet.example.org/wiki/page#anchor", set()),
    ("terug naar /#top", set()),
    ("ticket #4521", set()),
    ("#4521a en #_1", {"4521a"}),
    ("Top! #één", {"één"}),
    ("Top! #e\u0301e\u0301n", {"één"}),
    ("#Gedoe en #gedoe", {"gedoe"}),
    ("#GEDOE.", {"gedoe"}),
    ("(#opgelost)", {"opgelost"}),
    ("#gedoe-fix #watdeklantvindt,", {"gedoe-fix", "watdeklantvindt"}),
    ("a#b c", set()),
    ("##dubbel", {"dubbel"}),
    ("#über alles", {"über"}),
    ("# los", set()),
    (None, set()),
])
def test_hashtag_grammar(text, expected):
    assert hashtags(text) == expected


def test_decomposed_and_composed_tags_are_one():
    assert hashtags("#e\u0301e\u0301n") == hashtags("#\u00e9\u00e9n")


@pytest.mark.parametrize(("text", "expected"), [
    ("Wie weet meer over de planning?", True),
    ("Wie weet meer over de planning? #it", True),
    ("Wie weet meer? https://intranet.example.org/faq", True),
    ("Wie weet meer? #vraag https://intranet.example.org/kb/12 ", True),
    ("Wie weet meer?   #a #b\n", True),
    ("Weet iemand hoe dit werkt? <https://intranet.example.org/x|link>", True),
    ("Wie weet meer? www.example.org/x", True),
    ("Zie https://example.org/faq?", False),  # the '?' belongs to the URL
    ("Wie weet meer? #4521", False),  # #4521 is no hashtag, so it stays
    ("Wie weet meer?page#anchor", False),
    ("Update over het intranet #één", False),
    ("", False),
])
def test_question_detection(text, expected):
    assert looks_like_question(text) is expected


ID_18 = "006000000004C92AAE"


@pytest.mark.parametrize(("text", "expected"), [
    (f"Zie {ID_18}", {ID_18[:15]}),
    (f"Zie {ID_18[:15]}.", {ID_18[:15]}),
    (f"https://acme.lightning.force.com/lightning/r/Opportunity/{ID_18}/view", {ID_18[:15]}),
    (f"({ID_18[:15]})", {ID_18[:15]}),
    (f"x{ID_18}", set()),  # 19 characters: not a whole Id token
    (f"{ID_18[:16]} and {ID_18[:17]}", set()),
    (f"{ID_18}AB", set()),
    (f"{ID_18}_x", {ID_18[:15]}),
])
def test_salesforce_id_tokens(text, expected):
    assert salesforce_id_prefixes(text) == expected


def test_salesforce_ids_are_case_sensitive():
    assert ID_18.lower()[:15] not in salesforce_id_prefixes(f"Zie {ID_18}")
    assert salesforce_id_prefixes(f"Zie {ID_18.lower()}") == {ID_18.lower()[:15]}


@pytest.mark.parametrize(("text", "score"), [
    ("5 - Zeer tevreden", 5), ("10 - Zeer waarschijnlijk", 10), ("0 - Zeer onwaarschijnlijk", 0),
    ("7", 7), ("Neutraal", None), (None, None)])
def test_survey_score_is_the_number_in_the_text(text, score):
    assert survey_score(text) == score


def test_median_is_percentile_cont():
    assert median([]) is None
    assert median([Fraction(3)]) == 3
    assert median([Fraction(4), Fraction(1), Fraction(2)]) == 2
    assert median([Fraction(1), Fraction(2), Fraction(4), Fraction(10)]) == 3
    assert median([Fraction(1), Fraction(2)]) == Fraction(3, 2)


@pytest.mark.parametrize("text", ["2013-03-13T21:08:48Z", "2013-03-13T21:08:48+00:00",
                                  "2013-03-13T21:08:48.000+0000", "2013/03/13 21:08:48 +0000",
                                  "2013-03-13 21:08:48", "2013-03-13T23:08:48+02:00"])
def test_time_formats(text):
    assert parse_time(text) == datetime(2013, 3, 13, 21, 8, 48, tzinfo=UTC)


def test_slack_ts_and_exact_hours():
    start = slack_time("1777829520.000019")
    assert start == datetime(2026, 5, 3, 17, 32, tzinfo=UTC).replace(microsecond=19)
    assert hours_between(datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 1, 4, 20, tzinfo=UTC)) \
        == Fraction(13, 3)


def test_registration_spans_the_month():
    joined = datetime(2026, 5, 31, 23, 59, tzinfo=UTC)
    left = datetime(2026, 7, 1, tzinfo=UTC)
    person = Person("k", spells=[(joined, left)])
    months = month_range({datetime(2026, 4, 1).date(), datetime(2026, 8, 1).date()})
    assert [person.registered(month) for month in months] == [False, True, True, True, False]


def test_row_shapes_counts_ratios_medians_nps_and_suppression():
    month = datetime(2026, 5, 1).date()
    tally = Tally()
    tally.count("posts", month, ("ALL", "HR"), 3)
    tally.ratio("answer_rate", month, ("ALL",), 1, 3)
    tally.sample("median_days_to_quote", month, ("ALL",), Fraction(2))
    tally.sample("median_days_to_quote", month, ("ALL",), Fraction(5))
    tally.ratio("nps", month, ("ALL",), -1, 4)
    posts = metric_row("posts", month, "ALL", tally, False)
    assert (posts.level, posts.value, posts.numerator, posts.denominator) == (3, 3, None, None)
    assert metric_row("answer_rate", month, "ALL", tally, False).value == Fraction(1, 3)
    empty = metric_row("answer_rate", month, "HR", tally, False)
    assert (empty.value, empty.numerator, empty.denominator) == (None, 0, 0)
    middle = metric_row("median_days_to_quote", month, "ALL", tally, False)
    assert (middle.value, middle.numerator, middle.denominator) == (Fraction(7, 2), None, 2)
    none = metric_row("median_days_to_quote", month, "HR", tally, False)
    assert (none.value, none.numerator, none.denominator) == (None, None, 0)
    assert metric_row("nps", month, "ALL", tally, False).value == -25
    hidden = metric_row("posts", month, "HR", tally, True)
    assert (hidden.value, hidden.numerator, hidden.denominator, hidden.suppressed) == (None, None, None, True)
