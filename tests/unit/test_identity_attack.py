"""The identity-attack check: a group demeaned as a whole, or told it should be got rid of,
holds a comment for a human; the same words in news talk, reports and counter-speech do
not."""

from __future__ import annotations

import pytest

from workers.checks import local_checks
from workers.checks.base import CommentContext
from workers.checks.identity import (
    CONTEMPT,
    DEMEANS,
    ELIMINATION,
    IdentityAttackCheck,
    find_identity_attacks,
)
from workers.pipeline import run_checks
from workers.policy import Policy, Standing, decide

ATTACKS = [
    # Approved by the shipped models and the default policy before this check.
    ("muslims are terrorists", DEMEANS),
    ("Muslims are all terrorists.", DEMEANS),
    ("black people are animals", DEMEANS),
    ("Immigrants are vermin and should be sent home", DEMEANS),
    ("jews are parasites", DEMEANS),
    ("Mexicans are rapists and criminals", DEMEANS),
    ("Women are inferior to men", DEMEANS),
    ("Refugees are cockroaches", DEMEANS),
    ("Arabs are barbarians", DEMEANS),
    ("Islam is a disease", DEMEANS),
    ("trans people are mentally ill", DEMEANS),
    ("migrants are rats", DEMEANS),
    ("Muslims are nothing but animals", DEMEANS),
    ("these immigrants are a plague", DEMEANS),
    ("black men are thugs", DEMEANS),
    ("Gypsies are thieves", DEMEANS),
    ("Muslims are subhuman", DEMEANS),
    ("Blacks are apes", DEMEANS),
    ("Refugees are a bunch of parasites", DEMEANS),
    ("feminists are degenerates", DEMEANS),
    ("Honestly, black people are just animals.", DEMEANS),
    ("Muslims should all be deported", ELIMINATION),
    ("exterminate all jews", ELIMINATION),
    ("gays should be put down", ELIMINATION),
    ("immigrants deserve to be shot", ELIMINATION),
    ("death to all muslims", ELIMINATION),
    # Held or rejected by the models already; found here too.
    ("The Jews are a cancer on this country", DEMEANS),
    ("gay people are an abomination", DEMEANS),
    ("muslims are scum", DEMEANS),
    ("Kill all the muslims", ELIMINATION),
    ("filthy jew", CONTEMPT),
    ("dirty mexicans", CONTEMPT),
    # Words between "are" and the predicate; the predicate later in the clause.
    ("Muslim men are all wife-beating savages.", DEMEANS),
    ("feminists are ugly hateful trash", DEMEANS),
    ("These refugees don't belong here, they're animals.", DEMEANS),
    ("The jews control everything and are evil to the core.", DEMEANS),
    ("Muslims breed like rabbits", DEMEANS),
    ("Roma people are parasites, drive them out of the country.", DEMEANS),
    ("Jews should be wiped off the face of the earth.", ELIMINATION),
    # Questions, a clause between the group and "are", the trope of control, "the".
    ("why are muslims always terrorists? serious question", DEMEANS),
    ("the Africans moving onto the estate are animals", DEMEANS),
    ("Jews control the banks and the media", DEMEANS),
    ("Round up the Roma and put them on the next plane out.", ELIMINATION),
    ("Sikhs should be banned from the country", ELIMINATION),
    ("Filthy foreigners, get out of our country!!!", CONTEMPT),
    ("every single muslim is a terrorist", DEMEANS),
    ("Gay men are sick, diseased degenerates.", DEMEANS),
    ("Hitler was right about the Jews", DEMEANS),
    ("Kick every single Muslim out of the country", ELIMINATION),
    ("exterminate these jewish pigs", CONTEMPT),
    # Found by a review: "to" before a call to kill, a quantifier before "of", a place.
    ("I want to kill all the muslims", ELIMINATION),
    ("We need to deport all immigrants now", ELIMINATION),
    ("Most of the muslims are terrorists", DEMEANS),
    ("90% of muslims are terrorists", DEMEANS),
    ("Muslims in this country are terrorists", DEMEANS),
    ("Immigrants from Africa are animals", DEMEANS),
    ("Hang the jews", ELIMINATION),
    ("Immigrant scum", CONTEMPT),
    ("All muslims deserve death.", ELIMINATION),
    ("Death to Islam.", ELIMINATION),
    # Disguises the threats check also reads through, and what a browser shows as the
    # same words: padding, an entity, Markdown emphasis inside a word.
    ("muslims" + " " * 160 + "are vermin", DEMEANS),
    ("kill all the" + "\n" * 150 + "muslims", ELIMINATION),
    ("&#109;uslims are terrorists", DEMEANS),
    ("**Mus**lims are vermin", DEMEANS),
    ("MUSLIMS  ARE  TERRORISTS", DEMEANS),
    ("muslims are \u0430nimals", DEMEANS),  # Cyrillic a
    ("refugees are anim4ls", DEMEANS),
]

NOT_ATTACKS = [
    "Not all muslims are terrorists.",
    "Muslims are not terrorists.",
    "Muslims aren't terrorists, they are our neighbours.",
    "Immigrants are not criminals.",
    "Saying that muslims are terrorists is bigotry.",
    "The myth that immigrants are criminals won't die.",
    "Anyone who says trans people should be locked up is a bigot.",
    "He wrote that women are inferior, and he was fired.",
    "Chest tattoos on females are trash",
    "Attacks on muslims are rising, police say.",
    "Refugees are victims of terrorists.",
    "The report says migrants are criminals' favourite victims.",
    "The terrorists are not muslims, they are criminals.",
    "Immigrants are the backbone of our farms.",
    "Refugees are fleeing war.",
    "Black people are underrepresented in the senate.",
    "Women are paid less than men for the same work.",
    "Jews are celebrating Hanukkah this week.",
    "Islam is a religion of over a billion people.",
    "Rats are a problem in the subway, says the mayor.",
    "Immigrants are more likely to start businesses.",
    "Asians are the fastest growing group in the state.",
    "Police say the criminals are still at large.",
    "The cancer ward at the hospital is full.",
    "My black cats are animals with personality.",
    "Homosexuals are protected by the law.",
    "Killing all the weeds in the garden takes time.",
    "Christians are a minority in that country.",
    "Immigrants are afraid of rats in the shelters, the charity says.",
    "Why do people say Muslims are violent? It's a lazy stereotype.",
    "Why are immigrants always blamed for the housing crisis?",
    "Women working in tech are underpaid, the survey found.",
    "The gang who attacked the Polish shop owner are scum.",
    "It's wrong to say immigrants are criminals; they commit fewer crimes.",
    "The white rats in the lab are animals bred for research.",
    # Found by a review (each was held by the first version).
    "Sorry, my English is rubbish.",
    "English is a stupid language with no spelling rules.",
    "I had a greasy Chinese takeaway last night.",
    "We ate at a filthy Indian restaurant; the inspector closed it.",
    "He wore dirty black boots to the wedding.",
    "African swine fever has reached the pig farms.",
    "Researchers study African apes and Asian monkeys in the wild.",
    "Maternal death for black women is three times higher.",
    "The Nazis built gas chambers for Jews.",
    "Americans need to get out of the habit of tipping.",
    "Asylum seekers must be removed from hotels by March.",
    "Wales will slaughter the English on Saturday.",
    "Ukrainians are fighting Russian invaders.",
    "Refugees are fleeing terrorists.",
    "Immigrants are rarely criminals.",
    "Few Muslims are terrorists.",
    "Anyone who thinks Muslims are terrorists is an idiot.",
    "He told the crowd that immigrants are animals, and lost the seat.",
    "The conspiracy theory that Jews control the media is ancient.",
    "Women are trash-talking the referee, and rightly.",
    "Egg whites are disgusting on their own.",
    "The Greeks are filthy rich from shipping.",
]


@pytest.mark.parametrize(("text", "label"), ATTACKS)
def test_identity_attacks_are_found(text: str, label: str) -> None:
    assert [found for found, _ in find_identity_attacks(text)] == [label]


@pytest.mark.parametrize("text", NOT_ATTACKS)
def test_the_same_words_in_news_talk_are_not(text: str) -> None:
    assert find_identity_attacks(text) == []


def test_an_attack_holds_for_a_human_and_never_rejects() -> None:
    """Hold-only: news comments quote such words to condemn them."""
    attack, harmless = IdentityAttackCheck().run_batch(
        [CommentContext(text="Refugees are cockroaches"),
         CommentContext(text="Refugees are welcome")])
    assert attack.score >= 0.5
    assert attack.may_reject is False
    assert attack.reasons == ['demeans a group as a whole: "refugees are cockroaches"']
    assert (harmless.score, harmless.reasons) == (0.0, [])


def test_attacks_the_models_approved_are_held_by_the_pipeline() -> None:
    """Through every local check and the default policy: held, and the reason names the
    words; the counter-speech beside them is approved."""
    texts = ["black people are animals", "exterminate all jews", "Not all muslims are "
             "terrorists, and the article says so."]
    outcomes = run_checks(local_checks(), [CommentContext(text=t) for t in texts])
    decisions = [decide(o.verdicts, Policy(), Standing(), o.failed) for o in outcomes]
    assert [str(d.status) for d in decisions] == ["held", "held", "approved"]
    assert decisions[0].decided_by == "identity_attack"
    assert '"black people are animals"' in decisions[0].reason


def test_a_long_comment_is_read_around_each_group_named() -> None:
    """The patterns run on windows around the names: an attack far into a long comment is
    found, and one that spans two windows' words is read whole."""
    filler = "The council met on Tuesday to discuss the new bus lanes. " * 60
    assert [label for label, _ in find_identity_attacks(
        filler + "Honestly, the refugees are vermin. " + filler)] == [DEMEANS]
    assert [label for label, _ in find_identity_attacks(
        filler + "kill all of the fucking filthy immigrants")] == [ELIMINATION, CONTEMPT]
    assert find_identity_attacks(filler * 2) == []
