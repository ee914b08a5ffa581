"""Unit tests for workers.checks.textmodel and the shipped toxicity/spam artefacts."""

from __future__ import annotations

import csv
import pathlib
import zipfile

import numpy as np
import pytest

from tests.support import DATA_DIR, IN_CI
from workers.checks.base import HOLD_POINT, REJECT_POINT, CommentContext
from workers.checks.models_text import ToxicityCheck
from workers.checks.textmodel import (
    Block,
    LinearTextModel,
    fit_linear_model,
    normalize_for_model,
)

REPO = pathlib.Path(__file__).resolve().parents[2]
MODELS = REPO / "workers" / "checks" / "models"
CLEAN = "Thanks for this clear report on the ceasefire talks; the timeline helped me a lot."
TOXIC = "You are a worthless idiot, shut your stupid mouth you moron."
SPAM = "Hey guys check out my new channel and please subscribe!!! http://www.youtube.com/user/x"
HAM = "This song never gets old, still listening in 2015"


def data_dir() -> pathlib.Path:
    return DATA_DIR


@pytest.fixture(scope="module")
def tox() -> LinearTextModel:
    return LinearTextModel.load(MODELS / "toxicity.npz")


@pytest.fixture(scope="module")
def spam() -> LinearTextModel:
    return LinearTextModel.load(MODELS / "spam.npz")


# ----------------------------------------------------------------- normalize_for_model
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hello&#39;s  <br />World", "hello's world"),
        ("&amp;quot;quoted&amp;quot;", '"quoted"'),
        ("\ufeffcheck\u200b out\ufeff", "check out"),
        ("\uff26\uff35\uff2c\uff2c", "full"),
        ('see <a href="https://www.example.com/x?y=1">here</a>', "see example.com here"),
        ("visit http://www.Spam-Site.biz/path now", "visit spam-site.biz now"),
        ("i <3 this, a < b > c", "i <3 this, a < b > c"),
        ("  many\n\tspaces  ", "many spaces"),
        ("", ""),
    ],
)
def test_normalize_for_model(raw: str, expected: str) -> None:
    assert normalize_for_model(raw) == expected


def test_normalize_is_idempotent() -> None:
    once = normalize_for_model("A &amp; B <b>bold</b> https://t.co/abc \u200b")
    assert normalize_for_model(once) == once


# ----------------------------------------------------------------- artefacts
@pytest.mark.parametrize("name", ["toxicity", "spam"])
def test_artefact_has_no_pickles_and_metadata(name: str) -> None:
    path = MODELS / f"{name}.npz"
    assert path.stat().st_size < 5_000_000
    with zipfile.ZipFile(path) as zf:
        for member in zf.namelist():
            with zf.open(member) as fh:
                head = fh.read(256)
            assert b"|O" not in head, f"{member} holds Python objects"
    with np.load(path, allow_pickle=False) as z:
        assert "metadata" in z.files
    model = LinearTextModel.load(path)
    meta = model.metadata
    for key in ("name", "version", "trained_at", "data_files", "heldout_metrics", "thresholds"):
        assert key in meta
    assert model.name == name
    assert all(isinstance(v, int) and v > 0 for v in meta["data_files"].values())
    assert all(b["n_features"] > 0 for b in meta["blocks"])


def test_toxicity_check_thresholds_are_the_artefacts() -> None:
    """The check's calibration points are copied from what training measured; a retrained
    model whose thresholds moved (tox-lr-2: 0.43 / 0.55 -> 0.34 / 0.41) must move them too."""
    measured = LinearTextModel.load(MODELS / "toxicity.npz").metadata["thresholds"]
    assert ToxicityCheck.review_at == pytest.approx(measured["review"], abs=0.01)
    assert ToxicityCheck.reject_at == pytest.approx(measured["reject"], abs=0.01)


def test_scores_are_deterministic_and_batched_equals_single(
    tox: LinearTextModel, spam: LinearTextModel
) -> None:
    texts = [CLEAN, TOXIC, SPAM, HAM, "", "<br />", "ok"]
    for model in (tox, spam):
        batch = model.score(texts)
        assert batch.shape == (len(texts),)
        assert np.all((batch >= 0) & (batch <= 1))
        np.testing.assert_array_equal(batch, model.score(texts))
        single = np.array([model.score([t])[0] for t in texts])
        np.testing.assert_allclose(batch, single, rtol=1e-6, atol=1e-9)
        reloaded = LinearTextModel.load(MODELS / f"{model.name}.npz")
        np.testing.assert_array_equal(batch, reloaded.score(texts))


def test_empty_batch_and_string_rejected(tox: LinearTextModel) -> None:
    assert tox.score([]).shape == (0,)
    with pytest.raises(TypeError):
        tox.score("not a list")  # type: ignore[arg-type]


def test_toxicity_sanity(tox: LinearTextModel) -> None:
    clean, toxic = tox.score([CLEAN, TOXIC])
    assert clean < 0.3
    assert toxic > 0.8
    reasons = tox.top_terms(TOXIC)
    assert reasons
    assert any(w in " ".join(reasons) for w in ("idiot", "moron", "stupid", "worthless"))


def test_spam_sanity(spam: LinearTextModel) -> None:
    s_spam, s_ham, s_clean = spam.score([SPAM, HAM, CLEAN])
    assert s_spam > s_ham
    assert s_spam > 0.5
    assert s_clean < 0.3
    reasons = " ".join(spam.top_terms(SPAM))
    assert any(w in reasons for w in ("subscribe", "check out", "channel"))


def test_markup_does_not_change_score(tox: LinearTextModel) -> None:
    a, b = tox.score([TOXIC, f"\ufeff<b>{TOXIC.replace(' ', '&#32;')}</b><br />"])
    assert a == pytest.approx(b, rel=1e-6)


def test_top_terms_limits(tox: LinearTextModel) -> None:
    assert tox.top_terms("", n=3) == []
    assert len(tox.top_terms(TOXIC, n=2)) <= 2


def test_save_load_roundtrip(tmp_path: pathlib.Path) -> None:
    blocks = [
        Block("word", "word", 2**10, (1, 2), use_idf=True),
        Block("char", "char_wb", 2**10, (2, 3)),
        Block("meta", "meta", 2**6, scale=0.5),
    ]
    texts = ["good nice post", "bad awful spam", "nice article", "buy cheap pills now"] * 3
    labels = [0, 1, 0, 1] * 3
    model = fit_linear_model(texts, labels, blocks, c=1.0, metadata={"name": "t", "version": "1"})
    path = tmp_path / "m.npz"
    model.save(path)
    again = LinearTextModel.load(path)
    np.testing.assert_allclose(model.score(texts), again.score(texts), rtol=1e-6)
    assert again.score(["buy cheap pills"])[0] > again.score(["nice post"])[0]



def test_source_indicator_absorbs_another_corpus_base_rate() -> None:
    """A corpus that is mostly positive (Davidson's tweets, 83 % toxic) teaches a plain fit
    that its style words are positive; with its indicator column (dropped at inference)
    only what tells its positives from its negatives is learnt."""
    blocks = [Block("word", "word", 2**12, (1, 1))]
    target = ["nice report thanks", "you idiot", "good timeline", "stupid idiot"] * 5
    target_y = [0, 1, 0, 1] * 5
    # The other corpus: 20 of 22 rows positive (by "idiot" or "stupid"); "lol" is in half of
    # its positives and half of its negatives, so it tells nothing apart there.
    other = ["lol idiot", "stupid idiot", "lol stupid", "idiot", "lol idiot stupid", "stupid",
             "lol stupid", "idiot stupid", "lol idiot", "you stupid"] * 2
    other += ["lol thanks", "good thanks"]
    texts, labels = target + other, target_y + [1] * 20 + [0, 0]
    source = [0] * len(target) + [1] * len(other)
    plain = fit_linear_model(texts, labels, blocks, c=10.0, metadata={"name": "t"})
    indicated = fit_linear_model(texts, labels, blocks, c=10.0, source=source,
                                 metadata={"name": "t"})
    # Scored against a word neither fit has seen: what "no evidence" scores.
    lol, unseen = plain.score(["lol", "zebra"])
    plain_lift = lol - unseen
    assert plain_lift > 0.15, (lol, unseen)  # the corpus' base rate, learnt as a word (0.21)
    lol, unseen = indicated.score(["lol", "zebra"])
    assert abs(lol - unseen) < min(0.1, plain_lift / 2), (lol, unseen)  # measured 0.08
    assert indicated.score(["you idiot"])[0] > 0.9  # the real signal is still learnt
    assert indicated.score(["thanks lol"])[0] < 0.2
    assert indicated.weights["word"].shape == (2**12,)  # the indicator is not shipped

# ----------------------------------------------------------------- data-backed checks
def _read(name: str) -> list[dict[str, str]]:
    path = data_dir() / name
    if not path.exists():
        message = f"labelled data not found at {path} (set WARDEN_DATA_DIR)"
        if IN_CI:
            pytest.fail(message, pytrace=False)  # CI must run the data tests, never skip
        pytest.skip(message)
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.data
def test_spam_model_separates_youtube_comments(spam: LinearTextModel) -> None:
    rows = _read("spam_youtube_dev.csv")
    scores = spam.score([r["text"] for r in rows])
    y = np.array([r["label"] == "spam" for r in rows])
    assert scores[y].mean() > scores[~y].mean() + 0.4


@pytest.mark.data
def test_toxicity_model_separates_jigsaw_comments(tox: LinearTextModel) -> None:
    rows = _read("toxicity_jigsaw_wiki_dev.csv")
    scores = tox.score([r["text"] for r in rows])
    y = np.array([r["label"] == "toxic" for r in rows])
    assert scores[y].mean() > scores[~y].mean() + 0.4


def _normalize_by_the_book(text: str) -> str:
    """normalize_for_model as first written: every pattern on every text."""
    import html
    import re
    import unicodedata

    from workers.checks import textmodel

    t = html.unescape(html.unescape(text))
    t = textmodel._A_HREF.sub(lambda m: f" {textmodel._domain(m.group(1))} ", t)
    t = textmodel._TAG.sub(" ", t)
    t = unicodedata.normalize("NFKC", t.translate(textmodel._INVISIBLE))
    t = t.translate(textmodel._INVISIBLE).lower()
    t = textmodel._URL.sub(lambda m: f" {textmodel._domain(m.group(0))} ", t)
    return re.sub(r"\s+", " ", t).strip()


def test_the_fast_paths_of_normalize_and_tokenise_change_nothing() -> None:
    """normalize_for_model skips patterns that cannot match and collapses whitespace with
    str.split; the word blocks tokenise with a one-pass form of WORD_REGEX. Both must give
    exactly what the models were trained on."""
    import random
    import re

    from workers.checks.textmodel import _TOKEN, WORD_REGEX

    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace()]
    assert all(re.fullmatch(r"\s", c) for c in spaces)
    assert not [c for c in map(chr, range(0x110000))
                if re.fullmatch(r"\s", c) and not c.isspace()]
    rng = random.Random(20261207)
    pieces = ["a", "B", "1", "_", ".", ".com", "é", " ", "\n", "\u2003", "\u200b", "<", ">",
              "<a href='http://x.org/p'>", "</a>", "<br/>", "&amp;", "&lt;", "https://",
              "www.", "Www.", "HTTP://", "\uff46\uff55\uff4c\uff4c", "-", "/", "'",
              "x.y.example.co"]
    book = re.compile(WORD_REGEX)
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        normalized = normalize_for_model(text)
        assert normalized == _normalize_by_the_book(text), repr(text)
        assert _TOKEN.findall(normalized) == book.findall(normalized), repr(normalized)
        assert _TOKEN.findall(text) == book.findall(text), repr(text)


# ----------------------------------------------------------------- memoised hashing
@pytest.mark.parametrize("block", [
    Block("word", "word", 2**12, (1, 2)),
    Block("word3", "word", 2**12, (1, 3)),
    Block("char", "char_wb", 2**12, (2, 4)),
    Block("char15", "char_wb", 2**10, (1, 5)),
])
def test_memoised_counts_equal_scikit_learn(block: Block) -> None:
    """The fast path must give exactly the vectorizer's buckets, or shipped weights misread."""
    from workers.checks.textmodel import term_counts

    texts = [CLEAN, TOXIC, SPAM, HAM, "", "a", "ab  cd", "caf\u00e9 \u65e5\u672c\u8a9e",
             "x.y.example.com and www.spam.biz", "\U0001f600 ok ok ok", "a b c d e f"] * 2
    norm = [normalize_for_model(t) for t in texts]
    for _ in range(2):  # cold, then warm caches
        ours = term_counts(block, norm).toarray()
        theirs = block.hasher().transform(norm).toarray()
        np.testing.assert_array_equal(ours, theirs)


def test_a_full_hashing_cache_is_emptied_without_losing_the_batch(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the limit the cache is cleared; the terms it held and the batch asks for again
    are hashed anew (they raised KeyError, failing the batch once per overflow)."""
    from workers.checks import textmodel

    monkeypatch.setattr(textmodel, "_CACHE_LIMIT", 5)
    for block in (Block("w", "word", 2**10, (1, 1)), Block("c", "char_wb", 2**10, (2, 3))):
        buckets = textmodel._TermBuckets(block)
        want = block.hasher().transform(["a b c", "a d e f", "a b"]).toarray()
        for _ in range(2):
            got = [buckets.doc_buckets([doc])[0] for doc in ("a b c", "a d e f", "a b")]
            rows = np.zeros_like(want)
            for row, cols in enumerate(got):
                np.add.at(rows[row], cols, 1)
            np.testing.assert_array_equal(rows, want)


@pytest.mark.parametrize(("text", "rejected"), [
    # Swearing as emphasis, aimed at nobody: held for a human, not rejected.
    ("Holy shit, this has had over 2 billion views.", False),
    ("fucking love it omg", False),
    # Aimed at someone, or abusive without the swearing: still rejected.
    ("fuck you, idiot", True),
    ("You are a worthless idiot, shut your stupid mouth you moron.", True),
    ("this singer is such a worthless piece of shit", True),
    # Aimed at a group or a person who is not addressed: the verb, a bare "shit" or "hell"
    # and insults are not emphasis.
    ("fuck muslims", True),
    ("burn in hell", True),
    ("those people are shit", True),
    ("what a shit-head", True),
    ("yall are fucking idiots", True),
])
def test_toxicity_does_not_reject_swearing_aimed_at_nobody(text: str, rejected: bool) -> None:
    verdict = ToxicityCheck().run_batch([CommentContext(text=text)])[0]
    assert (verdict.score >= REJECT_POINT) is rejected, (verdict.score, verdict.reasons)
    # And whatever a site's reject threshold: a held score may not reject.
    assert verdict.may_reject is rejected
    if not rejected:
        assert verdict.score >= HOLD_POINT  # a human looks at it
        assert any("swearing aimed at nobody" in r for r in verdict.reasons), verdict.reasons


# Short comments a news or sports section gets. The talk-page training data has few short
# clean comments, so tox-lr-2 scored short text as toxic ("what a goal" 0.60 against a
# reject point of 0.41): these were held or rejected at the defaults (new-user trial).
SHORT_HARMLESS_APPROVED = ["what a goal", "What a game last night!", "Crazy weather today",
                           "Nice one", "Great save by the keeper", "Congrats to the team"]
# Swearing as emphasis: a human may look, the comment is not rejected.
SHORT_SWEARING_HELD = ["Holy shit, what a goal.", "Oh crap I missed the match",
                       "Bloody hell, brilliant goal"]
# Threats and wishes of harm the model does not see (workers/checks/threats.py): held.
SHORT_THREATS_HELD = ["kys", "drop dead", "go back to your country"]
SHORT_ABUSE_REJECTED = ["you are an idiot", "shut up moron", "fuck off and die",
                        "you stupid bitch", "your mother is a whore", "all of you are scum"]


def _decisions(texts: list[str]) -> list[str]:
    from workers.checks import offline_checks
    from workers.pipeline import run_checks
    from workers.policy import Policy, Standing, decide

    outcomes = run_checks(offline_checks(), [CommentContext(text=t) for t in texts])
    return [str(decide(o.verdicts, Policy(), Standing(), o.failed).status) for o in outcomes]


def test_short_comments_are_judged_by_their_words_not_their_length() -> None:
    held = SHORT_SWEARING_HELD + SHORT_THREATS_HELD
    texts = SHORT_HARMLESS_APPROVED + held + SHORT_ABUSE_REJECTED
    expected = (["approved"] * len(SHORT_HARMLESS_APPROVED) + ["held"] * len(held)
                + ["rejected"] * len(SHORT_ABUSE_REJECTED))
    assert dict(zip(texts, _decisions(texts), strict=True)) == dict(
        zip(texts, expected, strict=True))


# The model reads a named identity, and "hate", "kill" or "die", as abuse whatever they aim
# at; a rejection resting on them alone goes to a human instead.
RESTS_ON_A_MENTION_HELD = ["I hate Mondays.", "Kill the bill!"]
# Swearing as emphasis beside an identity is still held; beside a verb aimed at it, not.
EMPHASIS_NEAR_AN_IDENTITY_HELD = ["Holy shit, the women's team won!"]
# Aimed at someone, or at the identity it names: still rejected.
AIMED_ABUSE_REJECTED = ["I hate you", "kill him", "kill them all", "she should die",
                        "just die", "kill urself", "kill all muslims", "I hate gay people",
                        "gays are disgusting freaks", "die you stupid jew",
                        "women are stupid whores", "fuck muslims",
                        "I hate those fucking immigrants"]


def test_a_rejection_resting_on_an_identity_or_an_unaimed_verb_is_held() -> None:
    held = RESTS_ON_A_MENTION_HELD + EMPHASIS_NEAR_AN_IDENTITY_HELD
    texts = held + AIMED_ABUSE_REJECTED
    expected = (["held"] * len(held)
                + ["rejected"] * len(AIMED_ABUSE_REJECTED))
    assert dict(zip(texts, _decisions(texts), strict=True)) == dict(
        zip(texts, expected, strict=True))
    verdicts = ToxicityCheck().run_batch([CommentContext(text=t)
                                          for t in RESTS_ON_A_MENTION_HELD])
    for verdict in verdicts:
        assert not verdict.may_reject  # whatever a site's reject threshold
        assert any(r.startswith("rests on '") for r in verdict.reasons), verdict.reasons



# The spam model holds these or marks them spam (calibrated 0.79-0.96): YouTube spam opens
# the same way. They promote nothing, so they are approved; the same openings selling
# something stay spam.
PROMOTES_NOTHING_APPROVED = ["Hi everyone, I would like to come out and admit my "
                             "homosexuality", "Hi everyone, I would like to come out",
                             "Everyone please go vote on Tuesday",
                             "Hello everyone, I am new here and I wanted to share my story "
                             "about the flood"]
PROMOTES_SOMETHING_SPAM = ["Hi everyone, I would like you to check out my channel",
                           "Everyone please subscribe to my channel",
                           "Hello everyone, I am new here, please visit my website",
                           # The words as the model reads them (found by a review).
                           "".join(chr(ord(c) + 0xFEE0) if c != " " else c
                                   for c in "Everyone please subscribe to my channel"),
                           "Everyone please &#115;ubscribe to my &#99;hannel",
                           "please v\u200bisit my web\u200bsite",
                           "She loves Vena. trojmiasto.pl/Vena-Bus-Taxi-o59253.html",
                           "Hey guys I make beats, look me up on SoundCloud"]


def test_spam_that_promotes_nothing_is_not_spam() -> None:
    from workers.checks.models_text import SpamTextCheck
    from workers.policy import Policy, Standing, decide

    texts = PROMOTES_NOTHING_APPROVED + PROMOTES_SOMETHING_SPAM
    expected = (["approved"] * len(PROMOTES_NOTHING_APPROVED)
                + ["spam"] * len(PROMOTES_SOMETHING_SPAM))
    assert dict(zip(texts, _decisions(texts), strict=True)) == dict(
        zip(texts, expected, strict=True))
    raw = SpamTextCheck().model.score(PROMOTES_NOTHING_APPROVED)
    assert min(raw) > SpamTextCheck.review_at  # the model alone would hold them at least
    assert max(raw) > SpamTextCheck.reject_at  # and mark some spam
    verdicts = SpamTextCheck().run_batch([CommentContext(text=t)
                                          for t in PROMOTES_NOTHING_APPROVED])
    for verdict in verdicts:
        assert verdict.score < HOLD_POINT
        assert not verdict.may_reject  # whatever a site's reject threshold
        assert verdict.reasons[-1].startswith("promotes nothing")  # shown, though approved
        assert verdict.version == f"{SpamTextCheck().model.version}+promotion-1"
    # A suspect author's lowered hold threshold still sends one to a human.
    suspect = Standing(approved=0, rejected=3)
    assert str(decide(verdicts[:1], Policy(), suspect).status) == "held"
