"""Identity attacks: a whole group of people demeaned, or told it should be got rid of.

Why a check of its own: the toxicity model learnt abuse from talk-page comments and tweets,
whose identity hate is mostly slurs aimed at one editor, so it scores slurs and swearing
and lets the generalisation in plain words through. With the shipped models and the default
policy, 28 of 40 such comments written for this check were approved ("muslims are
terrorists", "black people are animals", "refugees are cockroaches", "exterminate all
jews", "death to all muslims"). Perspective answers this with an IDENTITY_ATTACK
attribute; here it is the grammar of the attack, read on the folded text the threats check
reads:

- a group named as a whole, then "are" (or "is" for a religion) and a demeaning
  predicate: "muslims are terrorists", "the jews are a cancer", "gays are perverts";
- a group and a call to kill, expel or exterminate it: "kill all the muslims", "gays
  should be put down", "death to all jews";
- a group with a contemptuous adjective: "filthy jews", "dirty mexicans".

Every hit holds the comment for a human and never rejects it, as the threats check does:
news comments quote such words to condemn them ("he said muslims are terrorists and
should resign"). A group that is the object of a preposition is not the subject of the
generalisation ("chest tattoos on females are trash", "attacks on muslims are rising"),
and a negation before the group or in the predicate ("not all muslims are terrorists",
"immigrants are not criminals") does not count.
"""

from __future__ import annotations

import re

from workers.checks.base import PhrasingCheck
from workers.checks.threats import FOLDED_BY_PREFILTER, canonical_forms, lowered_for_patterns
from workers.checks.threats import MAX_CHARS as _MAX_CHARS

DEMEANS = "demeans a group as a whole"
ELIMINATION = "calls for a group to be killed or expelled"
CONTEMPT = "names a group with contempt"

# Groups named as a whole (plural nouns; religions are "is"): who an attack is aimed at.
_GROUP_NOUNS = (
    "muslims|moslems|islamists|jews|jewish people|gays|homosexuals|homos|lesbians|"
    "bisexuals|transgenders|transsexuals|trannies|blacks|mexicans|immigrants|"
    "migrants|illegals|refugees|asylum seekers|arabs|asians|africans|indians|pakistanis|"
    "pakis|christians|catholics|hindus|sikhs|atheists|women|females|feminists|gypsies|"
    "roma|latinos|hispanics|foreigners|negroes|chinese|somalis|haitians|syrians|afghans|"
    "iraqis|iranians|nigerians|turks|romanians|albanians|palestinians|kurds|"
    "filipinos|vietnamese|koreans|japanese|puerto ricans|jamaicans|eritreans|sudanese|"
    "eastern europeans|irish|russians|israelis|americans|brits|"
    "germans|italians|greeks|ukrainians|transwomen|transmen")
_GROUP_ADJECTIVES = (
    "black|white|gay|jewish|muslim|moslem|trans|transgender|asian|arab|african|mexican|"
    "chinese|indian|hispanic|latino|brown|lesbian|bisexual|immigrant|foreign|queer|roma|"
    "polish|somali|syrian|afghan|iraqi|iranian|nigerian|turkish|romanian|albanian|"
    "pakistani|haitian|palestinian|kurdish|hindu|sikh|christian|catholic|irish|"
    "eastern european|lgbt|lgbtq")
_GROUP_PEOPLE = ("people|persons|men|women|folks?|guys|kids|males|females|immigrants|"
                 "migrants|refugees|travellers|travelers")
_RELIGIONS = "islam|judaism"


def _alternatives(words: str) -> str:
    return "|".join(w.replace(" ", r"\s+") for w in words.split("|"))


_GROUP = (rf"(?:(?:{_alternatives(_GROUP_ADJECTIVES)})\s+(?:{_GROUP_PEOPLE})"
          rf"|{_alternatives(_GROUP_NOUNS)})")
# Up to four words between "are" and what the group is said to be ("muslims are all
# wife-beating savages", "women are too stupid", "jews are greedy parasites"), none of
# which turns the predicate into something else: a negation ("are not criminals"), a
# preposition that makes it an object ("are victims of terrorists", "are afraid of
# rats"), a comparison ("are more likely than criminals").
_GAP_WORD = (r"(?!(?:not|never|no|nor|neither|hardly|of|by|from|against|with|for|to|than"
             r"|at|on|in|into|victims?|afraid|scared|targets?|called|labelled|labeled"
             r"|branded|accused|treated|seen|portrayed|painted|unlike|as|who|which|that"
             r"|because|when|if|but|or|rarely|seldom|less|fewer|fleeing|escaping|fighting"
             r"|battling|resisting|paying|facing|hiring|helping|catching|reporting|suing"
             r"|sued|robbed|attacked|beaten|harassed)\b)[\w'-]+,?")
_GAP = (rf"(?:(?:nothing\s+but|nothing\s+more\s+than|no\s+better\s+than|worse\s+than"
        rf"|a\s+bunch\s+of|a\s+pack\s+of|a\s+horde\s+of|a\s+plague\s+of"
        rf"|{_GAP_WORD})\s+){{0,4}}")
# What the group is said to be: dehumanising nouns, and the demeaning adjectives of
# generalisations ("women are stupid", "muslims are evil").
_PREDICATE = (
    r"(?:animals?|beasts?|savages?|barbarians?|vermin|rats?|cockroach(?:es)?|roaches"
    r"|parasites?|leech(?:es)?|maggots?|insects?|pigs?|swine|dogs?|apes?|monkeys?"
    r"|gorillas?|baboons?|scum|filth|trash|garbage|rubbish|sub-?humans?|untermensch"
    r"|inferior|diseases?|diseased|cancer|plague|virus|infestation|blight|terrorists?"
    r"|rapists?|pa?edophiles?|(?:child\s+)?molesters?|groomers?|predators|criminals?"
    r"|thieves|thugs?|gangbangers?|scammers?|cheats|killers|murderers|christ-killers"
    r"|abominations?|evil|not\s+(?:even\s+)?human|less\s+than\s+human|mentally\s+ill"
    r"|sick\s+in\s+the\s+head|perverts?|perverted|degenerates?|freaks?|disgusting"
    r"|worthless|stupid|idiots?|morons?|retards?|retarded|dumb|brainless|brainwashed"
    r"|filthy(?!\s+rich)|dirty|lazy|greedy|violent|extremists|feral|inbred|drunks|drunken|layabouts"
    r"|drug\s+dealers|gangsters|pa?edos?|orcs|cult|barely\s+human|a\s+danger"
    r"|incompatible\s+with|a\s+threat"
    r"|invaders?|useless|dangerous|barbaric|backward|primitive|sinners"
    r"|(?:the|our)\s+enemy|a\s+(?:menace|burden|scourge))\b(?![-'])")
_COPULA = r"(?:are|r|'re|re)"  # "is" only after a religion: "English is a stupid language"
# The group ends these words: it is not what the predicate is about ("attacks on muslims
# are rising", "chest tattoos on females are trash", "the myth that immigrants are
# criminals", "anyone who says trans people should be locked up is a bigot").
_NOT_SUBJECT = re.compile(
    r"(?:\b(?:on|of|for|with|about|against|to|from|by|at|in|among|into|than|toward|towards"
    r"|like|unlike|around|between|hate|hating|attack|attacks|attacking|protect"
    r"|protecting|not|no|never|aren'?t|isn'?t)\s+(?:all\s+|most\s+|many\s+|some\s+|the\s+)?"
    r"|\b(?:not|few|fewer|hardly\s+any)\s+)$")
# "Most of the muslims are": the group is the subject after all.
_QUANTIFIED = re.compile(
    r"\b(?:all|most|majority|lot|lots|many|half|percent|\d+\s*%|%)\s+of\s+"
    r"(?:the\s+|these\s+|those\s+)?$")
# Said by someone else, or named to be refuted (every rule): "the myth that immigrants are
# criminals", "anyone who says trans people should be locked up", "he told the crowd that".
_NOT_ASSERTED = re.compile(
    r"(?:\b(?:myth|idea|notion|stereotype|lie|claim|trope|belief|prejudice|narrative"
    r"|assumption|false|untrue|accusation|theory|conspiracy)\s+that\s+"
    r"|\b(?:says|said|saying|claims|claimed|claiming|argues|argued|arguing|suggests"
    r"|suggested|suggesting|insists|insisted|wrote|writes|tweeted|shouted|chanted|thinks"
    r"|believes|calls\s+for|called\s+for|calling\s+for)\s+(?:that\s+)?(?:all\s+|the\s+)?"
    r"|\b(?:told|tells)\s+(?:\w+\s+){0,3}?(?:that\s+)?(?:all\s+|the\s+)?"
    r"|\b(?:to|not|never|don'?t|stop)\s+(?:say|saying|claim|claiming|pretend|pretending)"
    r"\s+(?:that\s+)?(?:all\s+|the\s+)?"
    r"|\b(?:people|they|who|some|many|others|racists|bigots)\s+(?:say|think|believe|claim)"
    r"\s+(?:that\s+)?(?:all\s+|the\s+)?)$")
#: What the guards read before a match (more would make many failed matches quadratic).
_LOOK_BACK = 160
_ELIMINATED = (
    r"(?:die|killed|exterminated|gassed|wiped\s+out|wiped\s+off(?:\s+the\s+\w+)?"
    r"|eradicated|shot|hanged|hung|lynched|burned|burnt|sterili[sz]ed|put\s+down"
    r"|slaughtered|executed|deported|thrown\s+out|kicked\s+out|driven\s+out"
    r"|locked\s+up|rounded\s+up|sent\s+back|kept\s+out|cured|thrown\s+off"
    r"|banned\s+from\s+(?:entering\s+)?(?:the|this|our|my)\s+(?:country|nation|uk|us|island)"
    r"|(?:get|go)\s+(?:out\s+of|back\s+to)\s+(?:(?:our|the|this|my|their)\s+(?:own\s+)?"
    r"(?:country|countries|nation|land|homelands?|island|continent|neighbou?rhood|town|city)"
    r"|where))\b")

# Plural where the singular is also an adjective ("a filthy Indian restaurant", "dirty
# black boots", "greasy Mexican food").
_CONTEMPT_NOUNS = (r"jews?|muslims?|moslems?|arabs|mexicans|pakis?|pakistanis|gypsy|gypsies"
                   r"|immigrants?|migrants?|blacks|indians|africans|gays|homos?|negro(?:es)?"
                   r"|refugees?|foreigners?|travell?ers|somalis|romanians|albanians|asians"
                   r"|hindus|sikhs|lesbians|trannies")
_SINGULAR = (r"jew|muslim|moslem|arab|mexican|paki|pakistani|gypsy|immigrant|migrant|black"
              r"|indian|african|gay|homo|negro|refugee|foreigner|asian|hindu|sikh|christian"
              r"|catholic|somali|afghan|syrian|turk|romanian|albanian|lesbian")
# Adjectives of belief and orientation, before animal words: "muslim rats", "jewish pigs";
# not places or colours ("African swine fever", "Chinese pigs", "white rats").
_FAITH_OR_ORIENTATION = "jewish|muslim|moslem|gay|trans|lesbian|queer|hindu|sikh|christian|catholic"
# Singular names used as insults before such words: "immigrant scum", "gypsy thieves".
_CONTEMPT_SINGULAR = "jew|immigrant|migrant|gypsy|paki|refugee|homo|tranny"
#: (label, pattern, whether it starts at the group's name). Those that do are tried only
#: where a group is named (``re.match`` there: trying the names at every position of a
#: window cost 2-3 us per comment for each such pattern); the others start with rarer words
#: ("kill", "filthy", "why") and search the window.
RULES: tuple[tuple[str, re.Pattern[str], bool], ...] = (
    (DEMEANS, re.compile(
        rf"(?:{_RELIGIONS})\s+(?:is|are)\s+{_GAP}{_PREDICATE}"
        rf"|(?:{_GROUP})(?:"
        rf"(?:\s+(?:in\s+general|as\s+a\s+whole|as\s+a\s+group))?\s+{_COPULA}\s+"
        rf"{_GAP}{_PREDICATE}"
        # The predicate later in the clause: "these refugees don't belong here, they're
        # animals", "the jews control everything and are evil".
        rf"|\s+[^.!?;]{{0,60}}?(?:\bthey\s*{_COPULA}|\band\s+are)\s+{_GAP}{_PREDICATE}"
        # "the Africans moving onto the estate are animals", "muslims in this country are".
        rf"|\s+(?:\w+ing|who\s+\w+|that\s+\w+|(?:in|from)\s+(?:this\s+|the\s+|our\s+)?\w+"
        rf"|(?:over\s+)?here)\s+[^.!?;,]{{0,40}}?\b(?:are|r)\s+"
        rf"{_GAP}{_PREDICATE}"
        rf"|\s+breed\s+like\s+(?:rabbits|rats|animals|cockroaches|flies)\b)"
        # The antisemitic trope of control.
        rf"|jews\s+(?:control|run|own|rule)\s+(?:everything|(?:the\s+|our\s+|all\s+the\s+)?"
        rf"(?:world|media|banks|money|governments?|hollywood|congress|press|finance))\b"),
     True),
    (DEMEANS, re.compile(
        # One for all: "every muslim is a terrorist".
        rf"\bevery\s+(?:single\s+)?(?:{_SINGULAR})\s+is\s+{_GAP}{_PREDICATE}"
        # Asked, not said: "why are muslims always terrorists?".
        rf"|\bwhy\s+(?:are|r)\s+(?:all\s+)?(?:the\s+)?(?:{_GROUP})\s+(?:always|so|all|such)\s+"
        rf"{_GAP}{_PREDICATE}"
        rf"|\bhitler\s+was\s+right\s+about\s+(?:the\s+)?(?:{_GROUP})\b"), False),
    (ELIMINATION, re.compile(
        rf"(?:{_GROUP})\s+(?:should|must|need\s+to|ought\s+to|deserve\s+to|have\s+to)\s+"
        rf"(?:all\s+)?(?:be\s+)?(?:all\s+)?{_ELIMINATED}"
        rf"|(?:{_GROUP})\s+(?:all\s+)?deserve\s+(?:death|to\s+die)\b"
        rf"|(?:{_GROUP})\s+to\s+the\s+(?:gas\s+chambers?|ovens?)\b"), True),
    (ELIMINATION, re.compile(
        rf"\b(?:kill|exterminate|gas|nuke|wipe\s+out|eradicate|slaughter|murder|hang|lynch"
        rf"|shoot|burn|deport|get\s+rid\s+of)\s+(?:all|every|each|every\s+last)\s+"
        rf"(?:(?:of\s+)?(?:the|these|those|them)\s+)?(?:(?:fucking|filthy|dirty|bloody)\s+){{0,2}}"
        rf"(?:{_GROUP})\b"
        rf"|\b(?:kill|exterminate|gas|lynch|wipe\s+out|eradicate|round\s+up|nuke|shoot|hang"
        rf"|burn|deport)\s+"
        rf"(?:all\s+)?(?:the|these|those)\s+(?:(?:fucking|filthy|dirty|bloody)\s+){{0,2}}"
        rf"(?:{_GROUP})\b"
        rf"|\b(?:kick|throw|send|ship)\s+(?:(?:all|every|every\s+single|every\s+last)\s+)?"
        rf"(?:(?:of\s+)?(?:the|these|those)\s+)?(?:{_GROUP}|{_SINGULAR})\s+(?:all\s+)?"
        rf"(?:out|back|home)\b"
        rf"|\b(?:death|gas\s+chambers?|ovens?)\s+to\s+(?:all\s+)?(?:the\s+)?"
        rf"(?:{_GROUP}|{_RELIGIONS})\b"), False),
    (CONTEMPT, re.compile(
        # "muslim rats", "jewish pigs".
        rf"(?:{_FAITH_OR_ORIENTATION}|{_CONTEMPT_SINGULAR})\s+(?:rats|vermin|pigs|swine|apes|monkeys|parasites|scum"
        rf"|cockroaches|roaches|savages|animals|dogs|perverts|degenerates|filth|thieves)\b"),
     True),
    (CONTEMPT, re.compile(
        rf"\b(?:filthy|dirty|stinking|stinky|sub-?human)\s+(?:{_CONTEMPT_NOUNS})\b"),
     False),
)
#: The words that name a group, one of which every rule needs: the gate every comment goes
#: through (a set of its words; a regex of the names would cost 20 us on a long comment).
_GROUP_WORDS = frozenset(
    w for words in (_GROUP_NOUNS, _GROUP_ADJECTIVES, _RELIGIONS) for phrase in words.split("|")
    for w in phrase.split()[:1]
) | frozenset(_SINGULAR.split("|")) | frozenset(_CONTEMPT_SINGULAR.split("|")) | {"asylum"}
_WORD = re.compile(r"[a-z]+")


def _may_name_a_group(text: str) -> str | None:
    """The folded text, whitespace collapsed, if it may name a group, else None. Cheap for
    the many comments that name none: plain lowercase words first; the full fold only past
    that gate, or for text whose words only the fold reads (look-alike letters, entities
    such as "&#109;uslims", Markdown emphasis inside a word: "**Mus**lims"). A group's name
    spelt with digits ("mu5lims") or stretched ("muuuslims") does not open it; the
    predicate may be ("anim4ls")."""
    lowered = text[:_MAX_CHARS].lower()
    if (_GROUP_WORDS.isdisjoint(_WORD.findall(lowered)) and "&" not in lowered
            and "*" not in lowered and "_" not in lowered
            and (lowered.isascii() or FOLDED_BY_PREFILTER.isdisjoint(lowered))):
        return None
    folded = lowered_for_patterns(text)
    if "*" in folded or "_" in folded:
        folded = folded.replace("*", "").replace("_", "")
    return " ".join(folded.split())  # no group named after all: ``_windows`` finds none


#: Every rule's match lies in a window around a group's name: the words before it that a
#: call to kill, a determiner or a negation take ("not all of the ...", "kill all of the
#: fucking ..."), and the clause after. Read whole, a long comment cost the patterns about
#: 300 us; its windows cost a few.
_BEFORE, _AFTER = 100, 160


def _windows(lowered: str) -> list[tuple[int, int]]:
    """(start, end) of the stretches around each word that names a group, overlapping ones
    merged, cut at spaces so that no word is split."""
    spans: list[tuple[int, int]] = []
    for word in _WORD.finditer(lowered):
        if word.group() not in _GROUP_WORDS:
            continue
        start = lowered.rfind(" ", 0, max(0, word.start() - _BEFORE)) + 1
        if spans and start <= spans[-1][1]:
            start = spans[-1][0]
            spans.pop()
        end = lowered.find(" ", word.end() + _AFTER)
        spans.append((start, len(lowered) if end < 0 else end))
    return spans


def _excluded(before: str, at_group: bool) -> bool:
    """Whether the words before a match make it no attack. The prepositions and negations
    of ``_NOT_SUBJECT`` only count before a group's name: before "kill all the ..." a "to"
    is part of the call ("I want to kill all the ...")."""
    before = before[-_LOOK_BACK:]
    if _NOT_ASSERTED.search(before):
        return True
    return at_group and bool(_NOT_SUBJECT.search(before)) and not _QUANTIFIED.search(before)


def find_identity_attacks(text: str) -> list[tuple[str, str]]:
    """(label, the words matched) for each kind of identity attack in ``text``."""
    lowered = _may_name_a_group(text)
    if lowered is None:
        return []
    found: list[tuple[str, str]] = []
    for start, end in _windows(lowered):
        for canonical in canonical_forms(lowered[start:end]):
            named = [w.start() for w in _WORD.finditer(canonical) if w.group() in _GROUP_WORDS]
            for label, pattern, at_group in RULES:
                if any(label == seen for seen, _ in found):
                    continue
                matches = ((pattern.match(canonical, at) for at in named) if at_group
                           else pattern.finditer(canonical))
                for match in matches:
                    if match and not _excluded(canonical[:match.start()], at_group):
                        found.append((label, match.group(0).strip(" .!?,;:")))
                        break
    order = list(dict.fromkeys(label for label, _, _ in RULES))
    return sorted(found, key=lambda hit: order.index(hit[0]))


class IdentityAttackCheck(PhrasingCheck):
    name = "identity_attack"
    version = "identity-1"

    def find(self, text: str) -> list[tuple[str, str]]:
        return find_identity_attacks(text)
