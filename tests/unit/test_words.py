"""Per-site word lists and link-domain lists: normalisation, matching, the checks."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workers.checks import default_checks
from workers.checks.base import CommentContext
from workers.checks.links import LinksCheck
from workers.checks.normalize import CONFUSABLES, fold, normalize_text, runs
from workers.checks.words import WordsCheck, find
from workers.policy import Policy, Standing, decide

BLOCKED = ("idiot", "moron", "scum", "kill yourself", "fuck*")
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u034f", "\u180e"]
# Latin letter -> look-alikes from other scripts (each must fold back to the letter).
LOOKALIKES: dict[str, list[str]] = {}
for _char, _latin in CONFUSABLES.items():
    if len(_latin) == 1 and _latin.isalpha():
        LOOKALIKES.setdefault(_latin, []).append(_char)
LOOKALIKES.setdefault("i", []).extend(["1", "!", "|", "\uff49", "\U0001d422", "\u24d8"])
LOOKALIKES.setdefault("o", []).extend(["0", "\uff4f", "\U0001d428", "\u24de"])


def words_verdict(text: str, blocked: tuple[str, ...] = BLOCKED,
                  suspect: tuple[str, ...] = ()) -> tuple[float, list[str]]:
    v = WordsCheck().run(CommentContext(text=text, blocked_words=blocked,
                                        suspect_words=suspect))
    return v.score, v.reasons


# ----------------------------------------------------------------- normaliser properties
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_normalize_never_raises_and_is_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert fold(fold(text)) == fold(text)


@settings(max_examples=300)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_find_never_raises(text: str) -> None:
    assert isinstance(find(text, BLOCKED), list)


@st.composite
def disguised(draw: st.DrawFn) -> tuple[str, str]:
    """A blocked word with zero-width characters, look-alikes, case and repeats mixed in."""
    word = draw(st.sampled_from(["idiot", "moron", "scum"]))
    out = []
    for ch in word:
        form = draw(st.sampled_from([ch, ch.upper(), *LOOKALIKES.get(ch, [])]))
        out.append(form * draw(st.integers(1, 3)))
        if draw(st.booleans()):
            out.append(draw(st.sampled_from(ZERO_WIDTH)))
    if draw(st.booleans()):  # an accent on one letter
        i = draw(st.integers(0, len(out) - 1))
        out[i] += "\u0301"
    return word, "".join(out)


@settings(max_examples=400)
@given(disguised(), st.sampled_from(["", "you ", "what a "]), st.sampled_from(["", "!", " ok"]))
def test_disguised_blocked_words_are_caught(case: tuple[str, str], before: str,
                                            after: str) -> None:
    word, variant = case
    score, reasons = words_verdict(f"{before}{variant}{after}")
    assert score == 1.0, variant
    assert any(repr(word) in r for r in reasons)


# ----------------------------------------------------------------- examples
@pytest.mark.parametrize("text", [
    "You IDIOT!", "\u0406D\u0406\u041e\u0422", "i d i o t", "i.d.i.o.t", "1d10t", "idiooot",
    "i\u200bdiot", "\u24d8\u24d3\u24d8\u24de\u24e3",
    "\U0001d422\U0001d41d\U0001d422\U0001d428\U0001d42d",
    "\u00edd\u00ed\u00f3t", "\uff29\uff44\uff49\uff4f\uff54", "\u026a\u1d05\u026a\u1d0f\u1d1b",
    "id\u0336iot", "i\u00addiot", "idi&#111;t", "you should k1ll y0urself", "fuuuucking",
    "f.u.c.k this",
])
def test_disguises_caught(text: str) -> None:
    assert words_verdict(text)[0] == 1.0


@pytest.mark.parametrize("text", [
    "Scunthorpe council met today", "an assassin in a classic class", "as you like",
    "idiom and idiosyncrasy", "the idiot-proof plan", "skill yourself up",
])
def test_innocent_words_not_caught(text: str) -> None:
    blocked = ("cunt", "ass", "idiot", "kill yourself")
    score, _ = words_verdict(text, blocked=blocked)
    # "idiot-proof" contains the whole word idiot: that one is a hit by design.
    assert score == (1.0 if "idiot-proof" in text else 0.0)


def test_repeats_may_be_added_not_removed() -> None:
    assert find("what an asss", ("ass",)) == [("ass", "asss")]
    assert find("as you say", ("ass",)) == []
    assert runs("idiioot") == ("idiot", (1, 1, 2, 2, 1))


def test_prefix_entries_and_phrases() -> None:
    assert find("fucking hell", ("fuck*",)) == [("fuck*", "fucking")]
    assert find("fuck", ("fuck*",)) == [("fuck*", "fuck")]
    assert find("fun times", ("fuck*",)) == []
    assert find("please kill yourself", ("kill yourself",))
    assert not find("kill the lights yourself", ("kill yourself",))


def test_suspect_holds_blocked_rejects_and_reasons_name_the_word() -> None:
    score, reasons = words_verdict("cheap watches here", suspect=("cheap",))
    assert score == 0.6
    assert reasons == ["suspect word 'cheap'"]
    score, reasons = words_verdict("you 1d10t, cheap shot", suspect=("cheap",))
    assert score == 1.0
    assert reasons == ["blocked word 'idiot' (written '1d10t')"]
    decision = decide([WordsCheck().run(CommentContext(text="m0r0n", blocked_words=BLOCKED))],
                      Policy(), Standing())
    assert decision.status == "rejected"
    assert decision.decided_by == "words"


def test_no_lists_no_score_and_bad_entries_ignored() -> None:
    assert words_verdict("idiot", blocked=())[0] == 0.0
    assert words_verdict("idiot", blocked=("", "   ", "***", "!!"))[0] == 0.0


def test_words_check_ships_in_default_checks() -> None:
    names = [c.name for c in default_checks()]
    assert "words" in names


# ----------------------------------------------------------------- link domain lists
def links(text: str, allowed: tuple[str, ...] = (), blocked: tuple[str, ...] = ()) -> tuple:
    v = LinksCheck().run(CommentContext(text=text, allowed_link_domains=allowed,
                                        blocked_link_domains=blocked))
    return v.score, v.reasons


def test_blocked_link_domain_is_spam_including_subdomains() -> None:
    score, reasons = links("great deals at https://shop.Spam.example/x?y=1",
                           blocked=("spam.example",))
    assert score >= 0.9
    assert reasons == ["link to blocked domain spam.example"]
    assert links("see www.notspam.example", blocked=("spam.example",))[0] < 0.9
    decision = decide([LinksCheck().run(CommentContext(
        text="http://spam.example", blocked_link_domains=("https://www.spam.example/",)))],
        Policy(), Standing())
    assert decision.status == "spam"


def test_allowed_link_domains_do_not_count() -> None:
    text = "Source: https://www.bbc.co.uk/news/1 and https://bbc.co.uk/news/2 and https://x.bbc.co.uk/3"
    assert links(text)[0] >= 0.8
    assert links(text, allowed=("bbc.co.uk",)) == (0.0, [])
    score, reasons = links("read https://bbc.co.uk/a and https://bit.ly/b",
                           allowed=("https://www.bbc.co.uk",))
    assert "1 link to bit.ly" in reasons
    assert score < links("read https://bbc.co.uk/a and https://bit.ly/b")[0]


def test_unicode_domains_compare_as_punycode() -> None:
    score, _ = links("visit http://xn--mnchen-3ya.de/deal", blocked=("münchen.de",))
    assert score >= 0.9
