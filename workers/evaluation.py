"""Offline quality measurement of the moderation pipeline (``warden eval``).

Why here and not in a notebook: the figures must come from exactly the code the worker
runs (``run_checks(default_checks(), ...)`` then ``decide(...)`` with a site policy), over a
labelled CSV, without a server or a database, so quality is measured rather than claimed
and a change to a check or a threshold shows up in the numbers at once.
"""

from __future__ import annotations

import csv
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from service.domain.rendering import clean_text, fingerprint
from service.models import CommentStatus
from workers.checks import Check, CommentContext, offline_checks
from workers.checks.behaviour import MIN_WORDS_FOR_REPEATS
from workers.pipeline import DUPLICATE_WINDOW, count_in_window, run_checks
from workers.policy import Policy, Standing, decide, for_author

REQUIRED_COLUMNS = ("id", "text", "label")
#: The two label vocabularies; the first of each pair is the positive class.
LABEL_SETS: dict[str, tuple[str, str]] = {"spam": ("spam", "ham"), "toxicity": ("toxic", "clean")}
POSITIVE_STATUSES = frozenset({CommentStatus.REJECTED, CommentStatus.SPAM})
BATCH_SIZE = 256
# Wikipedia talk-page comments can exceed csv's default 128 KiB field limit.
_FIELD_LIMIT = 10_000_000


class EvaluationError(ValueError):
    """A labelled file cannot be evaluated; the message is one line for the user."""


@dataclass(frozen=True)
class LabelledSet:
    """Rows of a labelled CSV: texts, optional parent texts and 0/1 labels."""

    path: str
    task: str  # "spam" | "toxicity"
    ids: list[str]
    texts: list[str]
    parents: list[str | None]
    labels: np.ndarray  # 1 = positive (spam / toxic)
    # Optional columns that ``--stream`` replays: who wrote each row, when, and where.
    authors: list[str | None] = field(default_factory=list)
    times: list[datetime | None] = field(default_factory=list)
    articles: list[str | None] = field(default_factory=list)
    #: The first ``date`` cell that is not ISO 8601 (data row, text): ``--stream`` refuses it.
    bad_date: tuple[int, str] | None = None

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Evaluation:
    """Everything ``warden eval`` reports; ``as_dict`` is the ``--json`` shape."""

    path: str
    task: str
    n: int
    positives: int
    checks: dict[str, dict[str, Any]]
    decision: dict[str, Any]
    seconds: float
    check_seconds: float
    #: The decision again, counting only the file's own status (spam for spam/ham files,
    #: rejected for toxic/clean ones): a rude YouTube comment rejected as toxic is a
    #: false positive above, but not a spam mistake.
    own_kind: dict[str, Any] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    decided_by: dict[str, int] = field(default_factory=dict)
    policy: dict[str, Any] = field(default_factory=dict)
    #: ``--stream`` only: how the rows were replayed and what history they met.
    stream: dict[str, Any] | None = None

    @property
    def per_second(self) -> float:
        return self.n / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "task": self.task,
            "n": self.n,
            "positives": self.positives,
            "checks": self.checks,
            "decision": self.decision,
            "decision_own_kind": self.own_kind,
            "per_second": round(self.per_second, 1),
            "check_ms_per_comment": round(1000 * self.check_seconds / max(self.n, 1), 4),
            "statuses": self.statuses,
            "decided_by": self.decided_by,
            "policy": self.policy,
            **({"stream": self.stream} if self.stream is not None else {}),
        }


def load_labelled_csv(path: str | Path) -> LabelledSet:
    """Read ``id,text,label[,parent]``; every way a file can be wrong is one clear error."""
    p = Path(path)
    if not p.exists():
        raise EvaluationError(f"{p}: no such file")
    if not p.is_file():
        raise EvaluationError(f"{p}: not a regular file")
    csv.field_size_limit(max(csv.field_size_limit(), _FIELD_LIMIT))
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames
            if not header:
                raise EvaluationError(f"{p}: empty file (expected a header row id,text,label)")
            columns = [c.strip() for c in header]
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if missing:
                raise EvaluationError(
                    f"{p}: missing column(s) {', '.join(missing)} "
                    f"(found: {', '.join(columns) or 'none'}; need id,text,label)")
            reader.fieldnames = columns
            rows = list(reader)
    except UnicodeDecodeError as exc:
        raise EvaluationError(
            f"{p}: not UTF-8 text (byte {exc.start}: {exc.reason}); re-encode it as UTF-8"
        ) from None
    except csv.Error as exc:
        raise EvaluationError(f"{p}: not a valid CSV file ({exc})") from None
    except OSError as exc:
        raise EvaluationError(f"{p}: cannot read ({exc.strerror or exc})") from None
    if not rows:
        raise EvaluationError(f"{p}: no rows after the header")
    return _to_set(p, rows)


def _to_set(p: Path, rows: list[dict[str, Any]]) -> LabelledSet:
    labels = [(r.get("label") or "").strip().lower() for r in rows]
    seen = set(labels)
    task = next((t for t, pair in LABEL_SETS.items() if seen <= set(pair)), None)
    if task is None:
        known = {lab for pair in LABEL_SETS.values() for lab in pair}
        unknown = sorted(seen - known)
        if unknown:
            where = next(i for i, lab in enumerate(labels) if lab in unknown)
            shown = ", ".join(repr(u) for u in unknown[:5])
            raise EvaluationError(
                f"{p}: unknown label(s) {shown} (first at data row {where + 1}); "
                "use spam/ham or toxic/clean")
        raise EvaluationError(
            f"{p}: mixes spam/ham and toxic/clean labels; evaluate one task per file")
    positive = LABEL_SETS[task][0]
    ids, texts, parents = [], [], []
    for i, r in enumerate(rows):
        if r.get("text") is None:
            raise EvaluationError(f"{p}: data row {i + 1} has fewer fields than the header")
        ids.append(str(r.get("id") or ""))
        texts.append(str(r["text"]))
        parent = r.get("parent")
        parents.append(str(parent) if parent else None)
    blank = [i for i, text in enumerate(texts) if not text.strip()]
    if blank:
        raise EvaluationError(
            f"{p}: {len(blank)} row(s) without text (first at data row {blank[0] + 1}); the "
            "service refuses blank comments (422), so they cannot be evaluated: remove them")
    times = []
    bad_date: tuple[int, str] | None = None
    for i, r in enumerate(rows):
        cell = (r.get("date") or "").strip()
        moment = _instant(cell)
        if cell and moment is None and bad_date is None:
            bad_date = (i + 1, cell[:40])
        times.append(moment)
    y = np.array([lab == positive for lab in labels], dtype=np.int8)
    return LabelledSet(str(p), task, ids, texts, parents, y,
                       authors=[(r.get("author") or "").strip() or None for r in rows],
                       times=times, bad_date=bad_date,
                       articles=[(r.get("article") or "").strip() or None for r in rows])


def _instant(value: str | None) -> datetime | None:
    """An ISO 8601 ``date`` cell as an aware time (naive ones taken as UTC), else None."""
    try:
        moment = datetime.fromisoformat((value or "").strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _rounded(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) else round(float(x), 4)


def score_metrics(y: np.ndarray, scores: np.ndarray) -> dict[str, float | None]:
    """ROC-AUC and average precision; undefined (None) when the file has one class only."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    if len(set(y.tolist())) < 2:
        return {"roc_auc": None, "avg_precision": None}
    return {"roc_auc": _rounded(roc_auc_score(y, scores)),
            "avg_precision": _rounded(average_precision_score(y, scores))}


def decision_metrics(y: np.ndarray, flagged: np.ndarray, held: np.ndarray) -> dict[str, Any]:
    """Precision/recall/F1 of reject-or-spam; held comments count as not flagged."""
    tp = int((flagged & (y == 1)).sum())
    fp = int((flagged & (y == 0)).sum())
    fn = int((~flagged & (y == 1)).sum())
    tn = int((~flagged & (y == 0)).sum())
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = (2 * precision * recall / (precision + recall)
          if precision and recall else (0.0 if tp + fp and tp + fn else None))
    n = len(y)
    negatives = int((y == 0).sum())
    positives = int((y == 1).sum())
    return {
        "precision": _rounded(precision),
        "recall": _rounded(recall),
        "f1": _rounded(f1),
        "hold_rate": _rounded(held.sum() / n if n else None),
        "false_positive_rate": _rounded(fp / negatives if negatives else None),
        # What a human still has to look at: positives held rather than decided.
        "positives_held": int((held & (y == 1)).sum()),
        "negatives_held": int((held & (y == 0)).sum()),
        "recall_incl_hold": _rounded(int(((flagged | held) & (y == 1)).sum()) / positives
                                     if positives else None),
        "tp": tp, "fp": fp, "fn": fn, "tn": tn,
    }


def preflight(checks: Sequence[Check]) -> None:
    """Run every check once so a broken model fails loudly instead of holding every row."""
    probe = [CommentContext(text="preflight comment")]
    for check in checks:
        try:
            check.run_batch(probe)
        except Exception as exc:
            raise EvaluationError(f"check {check.name} could not run: {exc}") from None


def evaluate(
    data: LabelledSet,
    checks: Sequence[Check] | None = None,
    policy: Policy | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    site_id: str | None = None,
    stream: bool = False,
) -> Evaluation:
    """Run the worker's checks and policy over ``data`` in batches and measure them.

    ``site_id`` puts every row on that site, for a site-specific check given in ``checks``
    (``training.moderator_loop`` measures a site's own model this way).

    ``stream`` replays the rows as comments arriving on one site (``_StreamState.order``):
    each sees what the worker would know of the earlier ones (see ``_StreamState``). Without
    it every row is a first comment by a new author, the file's only one.
    """
    checks = tuple(offline_checks() if checks is None else checks)
    policy = policy or Policy()
    preflight(checks)
    n = len(data)
    state = _StreamState(data, policy) if stream else None
    order = state.order() if state else list(range(n))
    scores: dict[str, np.ndarray] = {c.name: np.zeros(n) for c in checks}
    kinds = {c.name: c.kind for c in checks}
    statuses: list[CommentStatus | None] = [None] * n
    decided_by: Counter[str] = Counter()
    check_seconds = 0.0
    started = time.perf_counter()
    for lo in range(0, n, batch_size):
        rows = order[lo:lo + batch_size]
        # What the behaviour check reads depends only on earlier rows, so a batch's
        # contexts can be built before any of it is decided; the standing cannot.
        contexts = [state.context(i, site_id) if state else
                    CommentContext(text=data.texts[i], parent_text=data.parents[i],
                                   site_id=site_id) for i in rows]
        t0 = time.perf_counter()
        outcomes = run_checks(checks, contexts)
        check_seconds += time.perf_counter() - t0
        for i, outcome in zip(rows, outcomes, strict=True):
            if outcome.failed:
                raise EvaluationError(
                    f"check(s) {', '.join(outcome.failed)} failed on row {data.ids[i]!r}")
            for verdict in outcome.verdicts:
                scores[verdict.check][i] = verdict.score
            standing = state.standing(i) if state else Standing()
            decision = decide(outcome.verdicts, policy, standing, outcome.failed)
            if state:
                state.decided(i, decision.status)
            statuses[i] = decision.status
            decided_by[decision.decided_by] += 1
        if progress is not None:
            progress(len(rows))
    seconds = time.perf_counter() - started
    status_arr = np.array([str(s) for s in statuses])
    flagged = np.isin(status_arr, [str(s) for s in POSITIVE_STATUSES])
    held = status_arr == str(CommentStatus.HELD)
    y = data.labels
    own_status = str(CommentStatus.SPAM if data.task == "spam" else CommentStatus.REJECTED)
    own = decision_metrics(y, status_arr == own_status, held)
    return Evaluation(
        path=data.path, task=data.task, n=n, positives=int(y.sum()),
        checks={name: {"kind": kinds[name], **score_metrics(y, s)} for name, s in scores.items()},
        decision=decision_metrics(y, flagged, held),
        own_kind={"status": own_status, **{k: own[k] for k in
                                           ("precision", "recall", "f1", "false_positive_rate")}},
        seconds=seconds, check_seconds=check_seconds,
        statuses=dict(sorted(Counter(str(s) for s in statuses).items())),
        decided_by=dict(decided_by.most_common()),
        policy={"mode": str(policy.mode), "hold_threshold": policy.hold_threshold,
                "reject_threshold": policy.reject_threshold},
        stream=state.summary() if state else None,
    )


class _StreamState:
    """What the worker knows of earlier comments when it decides one, rebuilt offline.

    - the same words earlier (``fingerprint``), on this article or others (an ``article``
      column; without one the file is one article), within the worker's 7 days;
    - the author's comments in the 10 minutes before (``author`` and ``date`` columns);
    - the author's decided comments, which move the thresholds (``policy.for_author``).
      Only the pipeline's own decisions count: no moderator works the replay's hold queue,
      so a held comment counts for neither side (in production a moderator's decision
      would, which makes the replay's figure the cautious one).
    """

    def __init__(self, data: LabelledSet, policy: Policy) -> None:
        if data.bad_date is not None:
            row, cell = data.bad_date
            raise EvaluationError(
                f"{data.path}: data row {row}: date {cell!r} is not ISO 8601 (e.g. "
                "2015-05-29T02:26:10Z); --stream orders by it: fix it, or leave it empty to "
                "replay the file in file order")
        self.data = data
        self.policy = policy
        self.timed = bool(data.times) and all(t is not None for t in data.times)
        self.earlier: dict[str, list[tuple[datetime | None, str | None]]] = {}
        self.recent: dict[str, list[datetime]] = {}
        self.tallies: dict[str, list[int]] = {}  # author -> [approved, rejected]
        self.moved = 0
        self.repeats = 0  # rows the behaviour check sees as repeats (window, word minimum)

    def order(self) -> list[int]:
        """Rows by their ``date`` when every row has one, else as the file lists them."""
        if self.timed:
            return sorted(range(len(self.data)), key=lambda i: (self.data.times[i], i))
        return list(range(len(self.data)))

    def context(self, i: int, site_id: str | None) -> CommentContext:
        data = self.data
        when = data.times[i] if self.timed else None
        article = data.articles[i] if data.articles else None
        seen = self.earlier.setdefault(fingerprint(clean_text(data.texts[i])), [])
        per_article: Counter[str | None] = Counter(
            where for at, where in seen
            if when is None or at is None or when - at <= DUPLICATE_WINDOW)
        seen.append((when, article))
        author = data.authors[i] if data.authors else None
        recent = 0
        if author is not None and when is not None:
            times = self.recent.setdefault(author, [])
            times.append(when)  # in date order: the list stays sorted
            recent = count_in_window(times, when)
        total = sum(per_article.values())
        if total and len(data.texts[i].split()) >= MIN_WORDS_FOR_REPEATS:
            self.repeats += 1
        return CommentContext(
            text=data.texts[i], parent_text=data.parents[i], site_id=site_id,
            duplicates_total=total,
            duplicates_elsewhere=sum(1 for where in per_article if where != article),
            author_recent=recent)

    def standing(self, i: int) -> Standing:
        author = self.data.authors[i] if self.data.authors else None
        approved, rejected = self.tallies.get(author, (0, 0)) if author else (0, 0)
        standing = Standing(approved=approved, rejected=rejected)
        if for_author(self.policy, standing)[1]:
            self.moved += 1
        return standing

    def decided(self, i: int, status: CommentStatus) -> None:
        author = self.data.authors[i] if self.data.authors else None
        if author is None or status not in (CommentStatus.APPROVED, *POSITIVE_STATUSES):
            return
        tally = self.tallies.setdefault(author, [0, 0])
        tally[0 if status == CommentStatus.APPROVED else 1] += 1

    def summary(self) -> dict[str, Any]:
        return {"ordered_by": "date" if self.timed else "file order",
                "authors": len({a for a in self.data.authors if a}) or None,
                "rows_with_earlier_same_text": self.repeats,
                "rows_whose_thresholds_moved": self.moved}


def _fmt(x: Any) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:.4f}"
    return str(x)


def _authors(n: int | None) -> str:
    return "no authors" if not n else "1 author" if n == 1 else f"{n} authors"


def format_report(ev: Evaluation) -> str:
    """A plain-text report for a terminal."""
    d = ev.decision
    lines = [
        f"{ev.path}: {ev.n} comments, {ev.positives} positive ({ev.task}); policy "
        f"{ev.policy.get('mode')} hold>={ev.policy.get('hold_threshold')} "
        f"reject>={ev.policy.get('reject_threshold')}",
        "",
        f"{'check':12} {'kind':9} {'ROC-AUC':>8} {'avg prec':>8}",
    ]
    for name, m in ev.checks.items():
        lines.append(f"{name:12} {m['kind']:9} {_fmt(m['roc_auc']):>8} "
                     f"{_fmt(m['avg_precision']):>8}")
    lines += [
        "",
        "decision (reject or spam = positive; held counted apart):",
        f"  precision {_fmt(d['precision'])}  recall {_fmt(d['recall'])}  F1 {_fmt(d['f1'])}  "
        f"false-positive rate {_fmt(d['false_positive_rate'])}",
        f"  hold rate {_fmt(d['hold_rate'])} ({d['positives_held']} positive, "
        f"{d['negatives_held']} negative held); recall incl. hold {_fmt(d['recall_incl_hold'])}",
        f"  only '{ev.own_kind.get('status')}' as positive: precision "
        f"{_fmt(ev.own_kind.get('precision'))}  recall {_fmt(ev.own_kind.get('recall'))}  "
        f"F1 {_fmt(ev.own_kind.get('f1'))}",
        f"  statuses {', '.join(f'{k} {v}' for k, v in ev.statuses.items())}",
        f"  decided by {', '.join(f'{k} {v}' for k, v in ev.decided_by.items())}",
        *([f"  replayed as a stream ({ev.stream['ordered_by']}): "
           f"{ev.stream['rows_with_earlier_same_text']} rows met the same text earlier, "
           f"{ev.stream['rows_whose_thresholds_moved']} met thresholds moved by their "
           f"author's history ({_authors(ev.stream['authors'])} named)"]
          if ev.stream else []),
        "",
        f"speed: {ev.per_second:.0f} comments/s through checks + policy "
        f"({1000 * ev.check_seconds / max(ev.n, 1):.3f} ms of check time per comment, batched)",
    ]
    return "\n".join(lines)
