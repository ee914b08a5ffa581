"""The threats check: the phrasings of threats and wishes of harm hold a comment for a
human; the same words in news talk, idioms and advice do not."""

from __future__ import annotations

import pytest

from workers.checks.base import CommentContext
from workers.checks.threats import (
    GO_BACK,
    INCITES_SELF_HARM,
    THREATENS,
    WISHES_HARM,
    ThreatsCheck,
    find_threats,
)

THREATS = [
    ("go kill yourself", INCITES_SELF_HARM),
    ("kys loser", INCITES_SELF_HARM),
    ("K1ll yourselfff", INCITES_SELF_HARM),  # digits as letters, stretched letters
    ("Just go drink bleach", INCITES_SELF_HARM),
    ("k\u0456ll yourself", INCITES_SELF_HARM),  # Cyrillic i
    ("I will k\u200bill you", THREATENS),  # zero-width space
    ("I hope you die", WISHES_HARM),
    ("I really hope that you get cancer", WISHES_HARM),
    ("get cancer and die", WISHES_HARM),
    ("drop dead", WISHES_HARM),
    ("You should be shot for writing this", WISHES_HARM),
    ("Please die.", WISHES_HARM),
    ("Why don't you just die?", WISHES_HARM),
    ("Keep it up and something bad will happen to you", WISHES_HARM),
    ("I will kill you", THREATENS),
    ("I\u2019m gonna hurt you", THREATENS),  # typographic apostrophe
    ("I'll come to your house and kill you", THREATENS),
    ("I will hunt you down", THREATENS),
    ("I know where you live.", THREATENS),
    ("You're dead.", THREATENS),
    ("go back to your country", GO_BACK),
    ("Go back where you came from", GO_BACK),
    # Found by a review: a conditional's negation is not the threat's; disguises the
    # anchors must see through (digits, stretched letters, double spaces).
    ("If you don't stop I'll find you and kill you", THREATENS),
    ("Don't test me, I will hurt you", THREATENS),
    ("If you don't like it go back to your country", GO_BACK),
    ("killll yourself", INCITES_SELF_HARM),
    ("kiiiill yourself", INCITES_SELF_HARM),
    ("I hope you d1e", WISHES_HARM),
    ("I will sh00t you", THREATENS),
    ("go  back to your country", GO_BACK),
]

HARMLESS = [
    "Don't kill yourself over the deadline, the council will extend it.",
    "You'd never hang yourself out to dry like that minister did.",
    "The club shot itself in the foot, and you shoot yourself in the foot by defending it.",
    "Smokers are far more likely to get cancer, the study says.",
    "Why do so many people get cancer in that valley?",
    "Old phones are where good ideas go to die.",
    "Many patients die slowly in corridors while waiting for beds.",
    "That dress is drop dead gorgeous.",
    "I'll shoot you an email with the council minutes.",
    "I will hurt your feelings, but the budget is wrong.",
    "I pray none of you die in this heat; check on your neighbours.",
    "I hope you all get to see the fireworks tonight.",
    "You're dead wrong about the bypass.",
    "After the war she could finally go back to her country.",
    "The plants will die now that the frost has come.",
    "The suspect is charged with threatening to kill his neighbour.",
    "What a goal, that keeper is dead on his feet",
    "I hope you enjoy the match as much as I did",
    # Found by a review (each was held by the first version).
    "Air pollution makes you ill and can kill you.",
    "Being mentally ill will not hurt you in the interview.",
    "I will never hurt you",
    "I want to know if the vaccine will hurt you",
    "I'll tell you what will kill you: the prices",
    "Option 1 will hurt you more",
    "I'll shoot you a quick email",
    "I'll shoot you the link",
    "Take the pressure off yourself",
    "That will kill your self-esteem",
    "You'll kill yourself laughing at this",
    "Three people die in a fire in Leeds",
    "He would rather die in a ditch than ask for an extension",
    "Catch cancer early and it is treatable.",
    "Charities: get cancer support near you",
    "Anyone can find out where you live from that leak",
    "Many refugees just want to go back to where they came from",
    "Divers pulled a man who tried to jump off a bridge from the river",
    "I hope you all burn calories at the new gym",
    "I hope you get shot of that old car",
]


@pytest.mark.parametrize(("text", "label"), THREATS)
def test_threats_are_found(text: str, label: str) -> None:
    assert [found for found, _ in find_threats(text)] == [label]


@pytest.mark.parametrize("text", HARMLESS)
def test_the_same_words_in_news_talk_are_not(text: str) -> None:
    assert find_threats(text) == []


def test_a_threat_holds_for_a_human_and_never_rejects() -> None:
    """Hold-only: the same words are quoted in news comments ("the suspect shouted ...")."""
    threat, harmless = ThreatsCheck().run_batch(
        [CommentContext(text="I hope you die"), CommentContext(text="I hope you win")])
    assert threat.score >= 0.5
    assert threat.may_reject is False
    assert threat.reasons == ['wishes death or harm on the reader: "hope you die"']
    assert (harmless.score, harmless.reasons) == (0.0, [])
