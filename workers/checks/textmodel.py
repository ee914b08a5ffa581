"""Small, dependency-light linear text classifiers for the toxicity and spam checks.

Why this shape:

* Features come from scikit-learn's ``HashingVectorizer`` (murmurhash3, stateless), so an
  artefact is just numbers: per-block weights (and optional IDF factors) plus the hashing
  parameters in JSON metadata. Nothing is unpickled at load time (``allow_pickle=False``),
  so a shipped model file cannot execute code, and the features do not drift when
  scikit-learn is upgraded.
* Scoring is a sparse dot product, fast enough to run inline in a Celery worker
  (thousands of comments per second on one core).
* ``top_terms`` explains a score with the words that pushed it up, for moderator-facing
  reasons.

The training side lives in ``training/``; it builds the same feature blocks through
:func:`build_features` so training and inference cannot disagree.
"""

from __future__ import annotations

import functools
import html
import io
import itertools
import json
import math
import operator
import pathlib
import re
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction import FeatureHasher
from sklearn.feature_extraction.text import HashingVectorizer

FORMAT = "warden-linear-text-model/1"

# Zero-width and invisible characters that spammers (and copy/paste) put in comments.
_INVISIBLE = dict.fromkeys(
    map(ord, "\ufeff\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u00ad\u034f"), None
)
_A_HREF = re.compile(r"""<a\s[^<>]*?href\s*=\s*["']?([^"'\s<>]+)[^<>]*>""", re.IGNORECASE)
# A tag must start with a letter right after "<" so "<3" or "a < b > c" survive.
_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)

#: Token pattern for word blocks: dotted domains ("youtube.com") stay one token,
#: otherwise any run of word characters (single letters kept: "u", "f u").
WORD_REGEX = r"(?u)\b\w+(?:\.\w+)*\.[a-z]{2,}\b|\b\w+\b"


def _domain(url: str) -> str:
    """Reduce a URL to its host name without ``www.`` (the part that identifies a spammer)."""
    u = re.sub(r"^[a-z][a-z0-9+.-]*://", "", url.strip(), flags=re.IGNORECASE)
    host = re.split(r"[/?#:]", u, maxsplit=1)[0].lower()
    if host.startswith("www."):
        host = host[4:]
    return host.strip(".")


def normalize_for_model(text: str) -> str:
    """Canonical text for the models, so markup and Unicode tricks do not change scores.

    Unescapes HTML entities (twice, for double-escaped ``&amp;#39;``), replaces ``<a href>``
    links and bare URLs by their domain, strips remaining tags such as ``<br />``, drops
    zero-width characters and U+FEFF, applies NFKC (fullwidth/compatibility forms), lowercases
    and collapses whitespace.
    """
    if not text:
        return ""
    t = html.unescape(html.unescape(text))
    if "<" in t:  # each pattern needs a "<"; most comments have none
        t = _A_HREF.sub(lambda m: f" {_domain(m.group(1))} ", t)
        t = _TAG.sub(" ", t)
    t = t.translate(_INVISIBLE)
    t = unicodedata.normalize("NFKC", t)
    t = t.translate(_INVISIBLE)
    t = t.lower()
    if "://" in t or "www." in t:  # what _URL starts with
        t = _URL.sub(lambda m: f" {_domain(m.group(0))} ", t)
    # Collapses whitespace as re's \s+ would: str.split() splits on the same Unicode
    # whitespace (a test checks every code point), three times faster.
    return " ".join(t.split())


# --------------------------------------------------------------------------- meta tokens
_DOMAIN_IN_TEXT = re.compile(r"\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:[a-z]{2,})\b")
_SPACED_DOMAIN = re.compile(r"\b[a-z0-9-]{3,}\s*\.\s*(?:com|net|org|info|biz|ly|tk|co)\b")
_LONG_DIGITS = re.compile(r"\d[\d\s().-]{6,}\d")
_HANDLE = re.compile(r"(?<!\w)@\w{2,}")
_LETTER = re.compile(r"[^\W\d_]")
_UPPER = re.compile(r"[A-Z\u00c0-\u00de]")
_SYMBOL = re.compile("[\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff]")
# Cheap necessary conditions checked first (each pattern above can only match where its
# hint does), so long ordinary comments skip the slow scans; results are unchanged.
_DOMAIN_HINT = re.compile(r"\.[a-z]{2}")
_SPACED_HINT = re.compile(r"\.\s*(?:com|net|org|info|biz|ly|tk|co)\b")
_NON_LETTERS = re.compile(r"[\W\d_]+")


def meta_tokens(raw: str, norm: str) -> list[str]:
    """Coarse shape features as pseudo-tokens (hashed into their own block).

    They capture what n-grams miss: links, phone numbers, shouting, length. Names are
    stable strings because their hashes are what the weights refer to.
    """
    toks: list[str] = []
    n = len(norm)
    toks.append(f"len:{min(int(math.log2(n + 1)), 12)}")
    words = norm.split()
    toks.append(f"words:{min(int(math.log2(len(words) + 1)), 9)}")
    url_hint = "://" in raw or "www." in raw.lower()
    if (url_hint and _URL.search(raw)) or ("<" in raw and _A_HREF.search(raw)):
        toks.append("has_url")
    if _DOMAIN_HINT.search(norm) and _DOMAIN_IN_TEXT.search(norm):
        toks.append("has_domain")
    if _SPACED_HINT.search(norm) and _SPACED_DOMAIN.search(norm):
        toks.append("spaced_domain")
    if _LONG_DIGITS.search(norm):
        toks.append("long_digits")
    if "@" in raw and _HANDLE.search(raw):
        toks.append("handle")
    n_letters = len(_NON_LETTERS.sub("", raw))
    if n_letters >= 8:
        caps = len(_UPPER.findall(raw)) / n_letters
        toks.append(f"caps:{min(int(caps * 4), 3)}")
    if "!!" in raw:
        toks.append("multi_excl")
    if "?" in raw:
        toks.append("question")
    if _SYMBOL.search(raw):
        toks.append("symbols")
    return toks


# --------------------------------------------------------------------------- features
@dataclass(frozen=True)
class Block:
    """One hashed feature block; its parameters are stored verbatim in the metadata."""

    name: str
    kind: str  # "word" | "char_wb" | "meta"
    n_features: int
    ngram_range: tuple[int, int] = (1, 1)
    sublinear_tf: bool = True
    use_idf: bool = False
    scale: float = 1.0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Block:
        return cls(
            name=str(d["name"]),
            kind=str(d["kind"]),
            n_features=int(d["n_features"]),
            ngram_range=(int(d["ngram_range"][0]), int(d["ngram_range"][1])),
            sublinear_tf=bool(d.get("sublinear_tf", True)),
            use_idf=bool(d.get("use_idf", False)),
            scale=float(d.get("scale", 1.0)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "n_features": self.n_features,
            "ngram_range": list(self.ngram_range),
            "sublinear_tf": self.sublinear_tf,
            "use_idf": self.use_idf,
            "scale": self.scale,
        }

    def hasher(self) -> HashingVectorizer | FeatureHasher:
        """Rebuild the exact hashing transformer from the stored parameters (cached)."""
        return _hasher_for(self)

    def _make_hasher(self) -> HashingVectorizer | FeatureHasher:
        if self.kind == "meta":
            return FeatureHasher(
                n_features=self.n_features, input_type="string", alternate_sign=False
            )
        common: dict[str, Any] = {
            "n_features": self.n_features,
            "ngram_range": self.ngram_range,
            "lowercase": False,  # normalize_for_model already did it
            "alternate_sign": False,
            "norm": None,
            "dtype": np.float32,
        }
        if self.kind == "word":
            return HashingVectorizer(analyzer="word", token_pattern=WORD_REGEX, **common)
        if self.kind == "char_wb":
            return HashingVectorizer(analyzer="char_wb", **common)
        raise ValueError(f"unknown block kind {self.kind!r}")


@functools.lru_cache(maxsize=64)
def _hasher_for(block: Block) -> HashingVectorizer | FeatureHasher:
    """Building a vectorizer costs ~1 ms of validation; per-comment calls must not pay it."""
    return block._make_hasher()


def _l2_rows(x: sp.csr_matrix) -> sp.csr_matrix:
    """Row-wise L2 normalisation in place on the CSR data (no diagonal matrices: fast)."""
    if x.nnz:
        sq = np.add.reduceat(x.data.astype(np.float64) ** 2, x.indptr[:-1].clip(max=x.nnz - 1))
        sq[np.diff(x.indptr) == 0] = 0.0
        norms = np.sqrt(sq)
        norms[norms == 0] = 1.0
        x.data = (x.data / np.repeat(norms, np.diff(x.indptr))).astype(np.float32)
    return x


# Memoised hashing. scikit-learn's vectorizers build every n-gram string in Python and
# hash it again for every document, which made feature extraction most of a check's time.
# Words repeat across comments (Zipf), so each word's char n-gram buckets and each word
# (and bigram) bucket are hashed once, by the same FeatureHasher the vectorizer uses, and
# looked up afterwards: identical features, several times faster. Bounded: a cache that
# grows past _CACHE_LIMIT entries (random-string floods) is simply emptied.
_CACHE_LIMIT = 300_000
# WORD_REGEX written so that a word not followed by a dot is matched in one pass (the
# alternation scanned each word three times): the same tokens (a test compares both on the
# data files and on random strings), half the time.
_TOKEN = re.compile(r"\b\w+(?:(?:\.\w+)*\.[a-z]{2,}\b)?")


class _TermBuckets:
    """term -> hashed bucket index, and word -> its char_wb n-gram buckets, memoised."""

    def __init__(self, block: Block) -> None:
        self.block = block
        self.hasher = FeatureHasher(
            n_features=block.n_features, input_type="string", alternate_sign=False
        )
        self.terms: dict[str, int] = {}
        self.words: dict[str, np.ndarray] = {}

    def lookup(self, terms: Sequence[str]) -> list[int]:
        def hash_terms(missing: list[str]) -> list[int]:
            hashed = sp.csr_matrix(self.hasher.transform([[t] for t in missing]))
            # One term per row, value 1 (alternate_sign=False): exactly one bucket per row.
            return hashed.indices.tolist()

        return _memoised(self.terms, terms, hash_terms)

    def word_grams(self, words: Sequence[str]) -> list[np.ndarray]:
        def grams_of(missing: list[str]) -> list[np.ndarray]:
            lo, hi = self.block.ngram_range
            grams = [char_wb_grams(w, lo, hi) for w in missing]
            flat = np.asarray(self.lookup([g for gs in grams for g in gs]), dtype=np.int32)
            bounds = np.cumsum([0, *map(len, grams)])
            return [flat[a:b] for a, b in itertools.pairwise(bounds)]

        return _memoised(self.words, words, grams_of)

    def doc_buckets(self, docs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Buckets of every feature occurrence, concatenated, and how many per document."""
        if self.block.kind == "char_wb":
            split = [doc.split() for doc in docs]
            arrays = self.word_grams([w for words in split for w in words])
            if not arrays:
                return np.zeros(0, dtype=np.int32), np.zeros(len(docs), dtype=np.int64)
            per_word = np.fromiter(map(len, arrays), dtype=np.int64, count=len(arrays))
            owner = np.repeat(np.arange(len(docs)), [len(words) for words in split])
            lengths = np.bincount(owner, weights=per_word, minlength=len(docs)).astype(np.int64)
            return np.concatenate(arrays), lengths
        lo, hi = self.block.ngram_range
        grams = [word_ngrams(_TOKEN.findall(doc), lo, hi) for doc in docs]
        cols = np.asarray(self.lookup([g for gs in grams for g in gs]), dtype=np.int32)
        return cols, np.fromiter(map(len, grams), dtype=np.int64, count=len(grams))


def _memoised(cache: dict[str, Any], keys: Sequence[str],
              compute: Callable[[list[str]], list[Any]]) -> list[Any]:
    """``cache[k]`` for every key, ``compute`` called once for the distinct missing ones.

    Most keys are known: one pass of dict.get in C, and the misses found by a scan for None,
    cost less than building a set of every key to find the new ones. Past _CACHE_LIMIT the
    cache is emptied, and then every key asked for is missing.
    """
    found = list(map(cache.get, keys))
    if not any(map(operator.is_, found, itertools.repeat(None))):
        return found
    missing = list({k for k, value in zip(keys, found, strict=True) if value is None})
    if len(cache) + len(missing) > _CACHE_LIMIT:
        cache.clear()
        missing = list(dict.fromkeys(keys))
    cache.update(zip(missing, compute(missing), strict=True))
    return list(map(cache.__getitem__, keys))


def char_wb_grams(word: str, lo: int, hi: int) -> list[str]:
    """scikit-learn's ``char_wb`` n-grams of one whitespace-free word (same order, same rules)."""
    w = f" {word} "
    n_w = len(w)
    out: list[str] = []
    for n in range(lo, hi + 1):
        offset = 0
        out.append(w[offset : offset + n])
        while offset + n < n_w:
            offset += 1
            out.append(w[offset : offset + n])
        if offset == 0:  # a word shorter than n counts once
            break
    return out


def word_ngrams(tokens: list[str], lo: int, hi: int) -> list[str]:
    """scikit-learn's word n-grams (no stop words) of a token list."""
    out = list(tokens) if lo == 1 else []
    for n in range(max(lo, 2), min(hi, len(tokens)) + 1):
        if n == 2:
            out.extend([f"{a} {b}" for a, b in itertools.pairwise(tokens)])
        else:
            out.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return out


@functools.lru_cache(maxsize=64)
def _buckets_for(block: Block) -> _TermBuckets:
    return _TermBuckets(block)


def term_counts(block: Block, norm: Sequence[str]) -> sp.csr_matrix:
    """Hashed n-gram counts of normalised texts, equal to ``block.hasher().transform(norm)``."""
    cols, lengths = _buckets_for(block).doc_buckets(norm)
    indptr = np.zeros(len(norm) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    x = sp.csr_matrix((np.ones(len(cols), dtype=np.float32), cols.astype(np.int32), indptr),
                      shape=(len(norm), block.n_features))
    x.sum_duplicates()
    return x


# The toxicity and spam models hash the same text with identical word and char blocks;
# the last batches' normalised texts and counts are kept (per thread) so the second model
# reuses them instead of doing the work again. Two, because the toxicity check scores a
# few rewritten texts between the batch's two scorings (its second opinions): with one,
# that small batch evicted the big one and the spam model hashed it all again.
_last_batch = threading.local()
_BATCHES_KEPT = 2


def _batch_memo(raw: Sequence[str]) -> dict[str, Any]:
    key = tuple(raw)
    memos: list[dict[str, Any]] = getattr(_last_batch, "memos", None) or []
    for memo in memos:
        if memo["raw"] == key:
            return memo
    memo = {"raw": key, "norm": [normalize_for_model(t) for t in key], "counts": {}}
    _last_batch.memos = [memo, *memos][:_BATCHES_KEPT]
    return memo


def raw_counts(block: Block, raw: Sequence[str], norm: Sequence[str]) -> sp.csr_matrix:
    """Hashed term counts (sublinear if configured), before IDF and normalisation.

    The result may be shared with other callers (see ``_batch_memo``): never modify it.
    """
    if block.kind == "meta":
        x = block.hasher().transform(meta_tokens(r, t) for r, t in zip(raw, norm, strict=True))
    elif block.kind in ("word", "char_wb"):
        x = term_counts(block, norm)
    else:
        x = block.hasher().transform(norm)
    x = sp.csr_matrix(x, dtype=np.float32)
    if block.sublinear_tf and x.nnz:
        x.data = (1.0 + np.log(x.data)).astype(np.float32)
    return x


def finish_block(block: Block, counts: sp.csr_matrix, idf: np.ndarray | None) -> sp.csr_matrix:
    """Apply IDF, L2-normalise the rows and scale, so blocks contribute comparably."""
    x = counts.copy()
    if block.use_idf and idf is not None and x.nnz:
        x.data = (x.data * idf[x.indices]).astype(np.float32)
    x = _l2_rows(x)
    if block.scale != 1.0:
        x.data = (x.data * np.float32(block.scale)).astype(np.float32)
    return x


def build_features(
    blocks: Sequence[Block],
    texts: Sequence[str],
    idfs: dict[str, np.ndarray] | None = None,
    max_chars: int = 2000,
) -> sp.csr_matrix:
    """The full design matrix (blocks side by side); shared by training and inference."""
    raw = [(t or "")[:max_chars] for t in texts]
    memo = _batch_memo(raw)
    norm, shared = memo["norm"], memo["counts"]
    mats = []
    for b in blocks:
        if b not in shared:
            shared[b] = raw_counts(b, raw, norm)
        mats.append(finish_block(b, shared[b], (idfs or {}).get(b.name)))
    return sp.csr_matrix(sp.hstack(mats, format="csr"))


def compute_idf(counts: sp.csr_matrix) -> np.ndarray:
    """Smoothed IDF per hashed bucket (as scikit-learn's TfidfTransformer)."""
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    return (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)


# --------------------------------------------------------------------------- model
class LinearTextModel:
    """A logistic-regression-style scorer over hashed n-gram blocks, loaded from ``.npz``."""

    def __init__(
        self,
        metadata: dict[str, Any],
        weights: dict[str, np.ndarray],
        intercept: float,
        idfs: dict[str, np.ndarray] | None = None,
    ) -> None:
        self.metadata: dict[str, Any] = metadata
        self.name: str = str(metadata.get("name", "model"))
        self.version: str = str(metadata.get("version", "0"))
        self.blocks: list[Block] = [Block.from_dict(b) for b in metadata["blocks"]]
        self.max_chars: int = int(metadata.get("max_chars", 2000))
        self.intercept = float(intercept)
        self.weights = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
        self.idfs = {k: np.asarray(v, dtype=np.float32) for k, v in (idfs or {}).items()}
        for b in self.blocks:
            if self.weights[b.name].shape != (b.n_features,):
                raise ValueError(f"weight shape mismatch for block {b.name!r}")
        self._coef = np.concatenate([self.weights[b.name] for b in self.blocks])

    # ------------------------------------------------------------------ io
    @classmethod
    def load(cls, path: pathlib.Path) -> LinearTextModel:
        """Load an artefact written by :meth:`save`; never unpickles (``allow_pickle=False``)."""
        return cls._load(pathlib.Path(path), str(path))

    @classmethod
    def from_bytes(cls, data: bytes) -> LinearTextModel:
        """Load the bytes of an artefact (e.g. a site's model stored in the database)."""
        return cls._load(io.BytesIO(data), "artefact bytes")

    def to_bytes(self) -> bytes:
        """The same compressed, pickle-free npz as :meth:`save`, in memory."""
        buffer = io.BytesIO()
        self._write(buffer)
        return buffer.getvalue()

    @classmethod
    def _load(cls, source: pathlib.Path | io.BytesIO, what: str) -> LinearTextModel:
        with np.load(source, allow_pickle=False) as z:
            meta = json.loads(bytes(z["metadata"]).decode("utf-8"))
            if meta.get("format") != FORMAT:
                raise ValueError(f"{what}: not a {FORMAT} artefact")
            weights = {b["name"]: np.array(z[f"w_{b['name']}"]) for b in meta["blocks"]}
            idfs = {
                b["name"]: np.array(z[f"idf_{b['name']}"])
                for b in meta["blocks"]
                if b.get("use_idf")
            }
            intercept = float(z["intercept"][0])
        return cls(meta, weights, intercept, idfs)

    def save(self, path: pathlib.Path) -> None:
        """Write weights, IDF factors and JSON metadata to a compressed, pickle-free npz."""
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._write(path)

    def _write(self, target: pathlib.Path | io.BytesIO) -> None:
        meta = dict(self.metadata)
        meta["format"] = FORMAT
        arrays: dict[str, np.ndarray] = {
            "metadata": np.frombuffer(
                json.dumps(meta, sort_keys=True).encode("utf-8"), dtype=np.uint8
            ),
            "intercept": np.array([self.intercept], dtype=np.float64),
        }
        for b in self.blocks:
            arrays[f"w_{b.name}"] = self.weights[b.name].astype(np.float32)
            if b.use_idf:
                arrays[f"idf_{b.name}"] = self.idfs[b.name].astype(np.float32)
        np.savez_compressed(target, **arrays)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ scoring
    def features(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Design matrix for ``texts`` exactly as seen in training."""
        return build_features(self.blocks, texts, self.idfs, self.max_chars)

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        """Raw log-odds; useful when combining models."""
        if isinstance(texts, str):
            raise TypeError("score() takes a sequence of texts, not a single string")
        if len(texts) == 0:
            return np.zeros(0, dtype=np.float64)
        x = self.features(texts)
        return np.asarray(x @ self._coef, dtype=np.float64) + self.intercept

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """Probability (0..1) of the positive class (toxic / spam) for each text, batched."""
        z = self.decision_function(texts)
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))

    # ------------------------------------------------------------------ explanations
    def _block_values(self, block: Block, norm: str) -> tuple[np.ndarray, np.ndarray,
                                                              np.ndarray]:
        """This document's buckets (sorted), their occurrence counts and final values.

        The same arithmetic as ``raw_counts`` + ``finish_block`` for one row, in plain numpy:
        building scipy matrices per document cost more than the explanation itself.
        """
        cols, _ = _buckets_for(block).doc_buckets([norm])
        buckets, occ = np.unique(cols, return_counts=True)
        x = occ.astype(np.float32)
        if block.sublinear_tf and len(x):
            x = (1.0 + np.log(x)).astype(np.float32)
        idf = self.idfs.get(block.name)
        if block.use_idf and idf is not None and len(x):
            x = (x * idf[buckets]).astype(np.float32)
        norm2 = float(np.sqrt(np.sum(x.astype(np.float64) ** 2)))
        if norm2 > 0:
            x = (x / norm2).astype(np.float32)
        if block.scale != 1.0:
            x = (x * np.float32(block.scale)).astype(np.float32)
        return buckets.astype(np.int64), occ.astype(np.float64), x.astype(np.float64)

    def _occurrence_values(self, block: Block, idx: np.ndarray,
                           values: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
        """Contribution to the log-odds of each feature occurrence (bucket ``idx``) here.

        Exact attribution: a bucket's contribution ``coef * x`` (x after tf, IDF and L2
        norm of *this* document) is shared equally among the occurrences hashed there.
        """
        if len(idx) == 0:
            return np.zeros(0, dtype=np.float64)
        buckets, occ, val = values
        pos = np.minimum(np.searchsorted(buckets, idx), max(len(buckets) - 1, 0))
        present = buckets[pos] == idx if len(buckets) else np.zeros(len(idx), dtype=bool)
        w = self.weights[block.name][idx].astype(np.float64)
        return np.where(present, w * val[pos] / np.maximum(occ[pos], 1.0), 0.0)

    def top_terms(self, text: str, n: int = 3) -> list[str]:
        """Words/phrases of ``text`` that pushed its score up most, for human-readable reasons.

        Each word gets the contribution of its word unigram, half of each bigram it is in,
        and its character n-grams (char_wb n-grams never cross a space, so they belong to
        one word). Words contributing at least a third of the strongest one are kept;
        adjacent kept words merge into short phrases ("check out", "my channel"). Callers
        should only show reasons for texts that scored high.
        """
        raw = (text or "")[: self.max_chars]
        norm = normalize_for_model(raw)
        if not norm or n <= 0:
            return []
        chunks = norm.split(" ")
        tokens: list[str] = []
        chunk_of: list[int] = []
        for ci, chunk in enumerate(chunks):
            found = _TOKEN.findall(chunk)
            tokens.extend(found)
            chunk_of.extend([ci] * len(found))
        if not tokens:
            return []
        contrib = np.zeros(len(tokens), dtype=np.float64)
        owner = np.asarray(chunk_of, dtype=np.int64)
        per_chunk = np.bincount(owner, minlength=len(chunks))
        for b in self.blocks:
            if b.kind not in ("word", "char_wb"):
                continue
            values = self._block_values(b, norm)
            buckets = _buckets_for(b)
            if b.kind == "word":
                lo, hi = b.ngram_range
                if lo <= 1 <= hi:
                    idx = np.asarray(buckets.lookup(tokens), dtype=np.int64)
                    contrib += self._occurrence_values(b, idx, values)
                if lo <= 2 <= hi and len(tokens) > 1:
                    bigrams = [f"{a} {c}" for a, c in itertools.pairwise(tokens)]
                    idx = np.asarray(buckets.lookup(bigrams), dtype=np.int64)
                    bw = self._occurrence_values(b, idx, values)
                    contrib[:-1] += bw / 2
                    contrib[1:] += bw / 2
            else:
                # chunks are single words (norm has collapsed whitespace).
                per_word = buckets.word_grams(chunks)
                gw = self._occurrence_values(b, np.concatenate(per_word).astype(np.int64),
                                             values)
                ends = np.cumsum([len(a) for a in per_word])
                sums = np.diff(np.concatenate([[0.0], np.cumsum(gw)])[np.concatenate([[0], ends])])
                contrib += sums[owner] / per_chunk[owner]
        best = float(contrib.max())
        if best <= 0:
            return []
        keep = (contrib >= best / 3).tolist()  # Python bools: the loop below reads each one
        phrases: list[tuple[float, str]] = []
        i = 0
        while i < len(tokens):
            if not keep[i]:
                i += 1
                continue
            j = i
            while j + 1 < len(tokens) and keep[j + 1] and j + 1 - i < 3:
                j += 1
            phrases.append((float(contrib[i : j + 1].sum()), " ".join(tokens[i : j + 1])))
            i = j + 1
        phrases.sort(key=lambda p: -p[0])
        out: list[str] = []
        for _, phrase in phrases:
            if phrase not in out:
                out.append(phrase)
            if len(out) >= n:
                break
        return out


__all__ = [
    "FORMAT",
    "Block",
    "LinearTextModel",
    "build_features",
    "char_wb_grams",
    "compute_idf",
    "fit_linear_model",
    "meta_tokens",
    "normalize_for_model",
    "raw_counts",
    "term_counts",
    "word_ngrams",
]


def fit_linear_model(
    texts: Sequence[str],
    labels: Sequence[int] | np.ndarray,
    blocks: Sequence[Block],
    *,
    c: float = 4.0,
    sample_weight: np.ndarray | None = None,
    class_weight: str | dict[int, float] | None = None,
    max_chars: int = 2000,
    metadata: dict[str, Any] | None = None,
    source: Sequence[int] | np.ndarray | None = None,
) -> LinearTextModel:
    """Fit L2 logistic regression on the hashed blocks (training-time helper).

    Lives here, next to :func:`build_features`, so the training scripts cannot build features
    differently from inference. scikit-learn's estimator is imported lazily: workers only score.

    ``source``: per row, 0 for data like what the model will score, k > 0 for a corpus of
    another kind. Each other corpus gets an indicator column, fitted and then dropped, so its
    own base rate (Davidson's tweets are 83 % toxic) is absorbed there instead of by the
    words typical of that corpus ("lol", "u").
    """
    from sklearn.linear_model import LogisticRegression

    raw = [(t or "")[:max_chars] for t in texts]
    norm = [normalize_for_model(t) for t in raw]
    idfs: dict[str, np.ndarray] = {}
    mats = []
    for b in blocks:
        counts = raw_counts(b, raw, norm)
        if b.use_idf:
            idfs[b.name] = compute_idf(counts)
        mats.append(finish_block(b, counts, idfs.get(b.name)))
    if source is not None:
        src = np.asarray(source, dtype=np.int64)
        others = [k for k in np.unique(src) if k != 0]
        if others:
            mats.append(sp.csr_matrix(np.column_stack([(src == k) for k in others])
                                      .astype(np.float64)))
    x = sp.csr_matrix(sp.hstack(mats, format="csr"))
    y = np.asarray(labels, dtype=np.int64)
    clf = LogisticRegression(C=c, solver="liblinear", class_weight=class_weight, max_iter=1000)
    clf.fit(x, y, sample_weight=sample_weight)
    coef = clf.coef_.ravel().astype(np.float32)
    weights: dict[str, np.ndarray] = {}
    off = 0
    for b in blocks:
        weights[b.name] = coef[off : off + b.n_features]
        off += b.n_features
    meta = dict(metadata or {})
    meta["blocks"] = [b.to_dict() for b in blocks]
    meta["max_chars"] = max_chars
    meta["format"] = FORMAT
    return LinearTextModel(meta, weights, float(clf.intercept_[0]), idfs)
