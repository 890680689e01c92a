"""The red-flag matcher and its lexicon (R-NOTE-5, seed 001): whole words only, simple
inflections, multi-word phrases, any case; the phrase found and the sentence it was in. And the
`[red_flags]` policy section, strict like every other table."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telephony.notify.red_flags import Lexicon, inflections
from telephony.policy.errors import PolicyError
from telephony.policy.loading import load_policy, parse_policy
from tests.support import ROOT

SEED_001 = load_policy(ROOT / "policies" / "seed-001-tech-support.toml")
LEXICON = Lexicon(SEED_001.red_flags.phrases)


def found(text: str, lexicon: Lexicon = LEXICON) -> list[tuple[str, str]]:
    return [(hit.phrase, hit.words) for hit in lexicon.find(text)]


@pytest.mark.parametrize(
    "text, phrase, words",
    [
        ("We will sue you.", "sue", "sue"),
        ("They sued the county last year.", "sue", "sued"),
        ("She sues everyone.", "sue", "sues"),
        ("Suing you is next.", "sue", "Suing"),
        ("My lawyers are ready.", "lawyer", "lawyers"),
        ("I will have my lawyer's office call.", "lawyer", "lawyer"),
        ("We are disappointed in our $80,000 website.", "disappointed", "disappointed"),
        ("What a disappointing launch.", "disappointed", "disappointing"),
        ("You disappoint me.", "disappointed", "disappoint"),
        ("We are going out to bid instead.", "going out to bid", "going out to bid"),
        ("We are GOING   out-to-bid.", "going out to bid", "GOING   out-to-bid"),
        ("We sent out three RFPs.", "RFP", "RFPs"),
        ("This is UNACCEPTABLE!", "unacceptable", "UNACCEPTABLE"),
        ("Your site was on the news.", "news", "news"),
        ("We spoke with northstar civic sites.", "Northstar Civic Sites", "northstar civic sites"),
        ("We're seriously reconsidering our relationship.", "reconsidering", "reconsidering"),
        ("We reconsidered.", "reconsidering", "reconsidered"),
        ("We got a subpoena for the records.", "subpoena", "subpoena"),
        ("The city was subpoenaed.", "subpoena", "subpoenaed"),
        ("Talk to my attorneys.", "attorney", "attorneys"),
    ],
)
def test_a_phrase_is_found_in_its_simple_forms_in_any_case__R_NOTE_5(text, phrase, words):
    assert (phrase, words) in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "That is an issue we will look into.",
        "We will pursue it with the vendor.",
        "Nice suede shoes.",
        "The newsletter went out.",
        "Our multimedia page is slow.",
        "The RFPX form.",
        "The lawyerly tone of the letter.",
        "The bidders were there; we are going out to bidders.",
        "I am disappointment-proof.",
        "It is acceptable.",
        "",
    ],
)
def test_no_false_hits_inside_words__R_NOTE_5(text):
    assert found(text) == []


def test_each_phrase_once_in_the_order_said_with_its_sentence__R_NOTE_5():
    text = (
        "Thanks for looking at it. But honestly, this is unacceptable! "
        "My lawyer will call you, and my lawyer is not patient. We might sue."
    )
    hits = LEXICON.find(text)
    assert [h.phrase for h in hits] == ["unacceptable", "lawyer", "sue"]
    assert hits[0].sentence == "But honestly, this is unacceptable!"
    assert hits[1].sentence == "My lawyer will call you, and my lawyer is not patient."
    assert hits[2].sentence == "We might sue."
    assert hits[1].key == "lawyer" and Lexicon(["Lawyer"]).find("LAWYER")[0].key == "lawyer"


def test_a_long_sentence_is_cut_around_the_phrase__R_NOTE_5():
    text = "word " * 300 + "we are going out to bid " + "word " * 300
    [hit] = LEXICON.find(text)
    assert "going out to bid" in hit.sentence and len(hit.sentence) <= 402


def test_inflections_are_simple_and_never_shorten_a_word_into_another__R_NOTE_5():
    assert inflections("sue") == {"sue", "sues", "sued", "suing"}
    assert inflections("bid") == {"bid", "bids", "bidded", "bidding"}
    assert {"disappoint", "disappoints", "disappointed", "disappointing"} <= inflections("disappointed")
    assert "su" not in inflections("sued") and "new" not in inflections("news")


LETTERS = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"), min_size=1)


@settings(max_examples=200, deadline=None, database=None)
@given(prefix=LETTERS, suffix=st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789"), max_size=5))
def test_a_phrase_glued_into_a_longer_word_never_hits__R_NOTE_5(prefix, suffix):
    """ "issue", "pursue", "misuse"...: a phrase with anything word-like in front is no hit."""
    lexicon = Lexicon(["sue", "lawyer", "RFP", "news", "going out to bid"])
    for phrase in lexicon.phrases:
        assert lexicon.find(prefix + phrase + suffix) == [], prefix + phrase + suffix


FILLER = st.lists(
    st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz"), min_size=1, max_size=8).filter(
        lambda w: not any(w in inflections(part) for p in LEXICON.phrases for part in p.split())
    ),
    max_size=6,
)


@settings(max_examples=200, deadline=None, database=None)
@given(
    before=FILLER,
    after=FILLER,
    phrase=st.sampled_from(LEXICON.phrases),
    case=st.sampled_from([str.upper, str.lower, str.title, str]),
    mark=st.sampled_from([".", "!", "?", ",", ""]),
)
def test_a_phrase_between_other_words_is_found_with_its_sentence__R_NOTE_5(before, after, phrase, case, mark):
    sentence = " ".join([*before, case(phrase) + mark, *after]).strip()
    text = f"First things first. {sentence}"
    hits = [h for h in LEXICON.find(text) if h.phrase == phrase]
    assert hits, text
    assert hits[0].words.casefold() == case(phrase).casefold()
    assert case(phrase) in hits[0].sentence and "First things first" not in hits[0].sentence


def policy_data() -> dict:
    return tomllib.loads((ROOT / "policies" / "default.toml").read_text())


def test_the_lexicon_is_policy_data_refused_when_wrong__R_NOTE_5():
    data = policy_data()
    assert parse_policy(data).red_flags.phrases == (), "the default policy has no red flags"
    data["red_flags"] = {"phrases": ["lawyer", "  going   out to bid "], "live_transcription": True}
    assert parse_policy(data).red_flags.phrases == ("lawyer", "going out to bid")
    cases = [
        ({"phrases": ["lawyer", "Lawyer"]}, "red_flags.phrases[1]", "already listed as phrases[0]"),
        ({"phrases": [], "live_transcription": True}, "red_flags.live_transcription", "nothing to listen for"),
        ({"phrases": ["  "]}, "red_flags.phrases[0]", "must not be empty"),
        ({"phrases": ["law*yer"]}, "red_flags.phrases[0]", "not a word or phrase"),
        ({"phrases": "lawyer"}, "red_flags.phrases", "valid tuple, got 'lawyer'"),
        ({"phrase": ["lawyer"]}, "red_flags.phrase", "did you mean 'phrases'?"),
        ({"live_transcription": "yes"}, "red_flags.live_transcription", "valid boolean, got 'yes'"),
    ]
    for table, key, reason in cases:
        data["red_flags"] = table
        with pytest.raises(PolicyError) as err:
            parse_policy(data, "p.toml")
        assert (err.value.file, err.value.key) == ("p.toml", key), (table, err.value)
        assert reason in err.value.reason, (table, err.value)


def test_seed_001_supplies_the_first_lexicon__R_NOTE_5():
    phrases = {p.casefold() for p in SEED_001.red_flags.phrases}
    for needed in ("lawyer", "attorney", "sue", "litigation", "subpoena", "news", "media", "going out to bid"):
        assert needed in phrases
    assert {"rfp", "reconsidering", "unacceptable", "disappointed", "competitor"} <= phrases
    assert SEED_001.red_flags.live_transcription is True
