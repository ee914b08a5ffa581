"""`warden eval`: loading labelled CSVs, the metrics, and the command's output."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from service.cli import main
from workers.checks.base import CommentContext, Verdict
from workers.evaluation import (
    EvaluationError,
    decision_metrics,
    evaluate,
    format_report,
    load_labelled_csv,
)
from workers.policy import Policy


class KeywordCheck:
    """A deterministic stand-in check: scores by keywords, so the expected metrics are known."""

    name = "keywords"
    version = "test-1"
    kind = "spam"

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.parents: list[str | None] = []

    def run_batch(self, contexts: Sequence[CommentContext]) -> list[Verdict]:
        self.batches.append(len(contexts))
        self.parents += [c.parent_text for c in contexts]
        out = []
        for c in contexts:
            score = 0.95 if "buy" in c.text else 0.6 if "maybe" in c.text else 0.1
            out.append(Verdict(self.name, self.version, "spam", score, []))
        return out


def write_csv(path: Path, rows: list[dict[str, str]], fieldnames: list[str] | None = None) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fieldnames or list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


ROWS = [
    {"id": "1", "text": "buy cheap pills", "label": "spam", "extra": "x"},
    {"id": "2", "text": "buy now, friends", "label": "spam", "extra": ""},
    {"id": "3", "text": "maybe spam", "label": "spam", "extra": ""},
    {"id": "4", "text": "a kind word", "label": "ham", "extra": ""},
    {"id": "5", "text": "buy the paper, it is good", "label": "ham", "extra": ""},
    {"id": "6", "text": "maybe not", "label": "ham", "extra": ""},
    {"id": "7", "text": "thanks", "label": "ham", "extra": ""},
]


@pytest.fixture
def small_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "small.csv", ROWS)


def test_metrics_on_a_known_file(small_csv: Path) -> None:
    check = KeywordCheck()
    data = load_labelled_csv(small_csv)
    assert data.task == "spam"
    assert data.labels.tolist() == [1, 1, 1, 0, 0, 0, 0]
    result = evaluate(data, [check], Policy(), batch_size=3)
    assert check.batches == [1, 3, 3, 1]  # the preflight probe, then batches of 3
    # flagged (>= 0.9): rows 1, 2, 5 -> tp 2, fp 1; held (0.5..0.9): rows 3, 6.
    d = result.decision
    assert (d["tp"], d["fp"], d["fn"], d["tn"]) == (2, 1, 1, 3)
    assert d["precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert d["recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert d["f1"] == pytest.approx(2 / 3, abs=1e-4)
    assert d["hold_rate"] == pytest.approx(2 / 7, abs=1e-4)
    assert d["recall_incl_hold"] == 1.0
    # Positives score 0.95, 0.95, 0.6; negatives 0.1, 0.95, 0.6, 0.1. Per positive, wins
    # plus half the ties over the 4 negatives: 3.5 + 3.5 + 2.5 of 12 pairs.
    auc = (3.5 + 3.5 + 2.5) / 12
    assert result.checks["keywords"]["roc_auc"] == pytest.approx(auc, abs=1e-4)
    assert 0 < result.checks["keywords"]["avg_precision"] <= 1
    assert result.n == 7
    assert result.positives == 3
    assert result.per_second > 0
    assert result.statuses == {"approved": 2, "held": 2, "spam": 3}
    assert "keywords" in format_report(result)


def test_decision_metrics_edge_cases() -> None:
    y = np.array([0, 0, 0])
    none = np.zeros(3, dtype=bool)
    m = decision_metrics(y, none, none)
    assert m["precision"] is None
    assert m["recall"] is None
    assert m["false_positive_rate"] == 0.0
    m = decision_metrics(y, np.array([True, False, False]), none)
    assert m["false_positive_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["precision"] == 0.0


def test_parent_column_is_passed_as_context(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", [
        {"id": "1", "text": "x", "label": "toxic", "parent": "the parent"},
        {"id": "2", "text": "y", "label": "clean", "parent": ""},
    ])
    check = KeywordCheck()
    result = evaluate(load_labelled_csv(path), [check])
    assert check.parents[1:] == ["the parent", None]  # after the preflight probe
    assert result.task == "toxicity"
    assert result.own_kind["status"] == "rejected"


@pytest.mark.parametrize(("content", "message"), [
    (None, "no such file"),
    (b"", "empty file"),
    (b"id,text\n1,hello\n", "missing column(s) label"),
    (b"id,text,label\n", "no rows"),
    (b"id,text,label\n1,hi,spam\n2,yo,maybe\n", "unknown label(s) 'maybe'"),
    (b"id,text,label\n1,hi,spam\n2,yo,toxic\n", "mixes spam/ham and toxic/clean"),
    (b"id,text,label\n1,caf\xe9,spam\n", "not UTF-8"),
    (b"id,text,label\n1,\"unterminated,spam\n", "unknown label"),
    (b"id,text,label\n1,hi,spam\n2,  ,ham\n", "1 row(s) without text (first at data row 2)"),
])
def test_bad_files_get_one_clear_error(tmp_path: Path, content: bytes | None,
                                       message: str) -> None:
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(EvaluationError, match=r".") as err:
        load_labelled_csv(path)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_stream_refuses_dates_that_are_not_iso_8601(tmp_path: Path) -> None:
    """Silently falling back to file order would replay another history; without
    --stream the dates are not read, so the file evaluates."""
    path = tmp_path / "dates.csv"
    path.write_bytes(b"id,text,label,date\n1,hi,spam,2015-05-29\n2,yo,ham,29/05/2015\n")
    data = load_labelled_csv(path)
    assert evaluate(data, [KeywordCheck()]).n == 2
    with pytest.raises(EvaluationError, match="data row 2: date '29/05/2015' is not ISO 8601"):
        evaluate(data, [KeywordCheck()], stream=True)


def test_labels_tolerate_case_space_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffid,text,label\n1,hi, SPAM \n2,yo,Ham\n".encode())
    assert load_labelled_csv(path).labels.tolist() == [1, 0]


# ----------------------------------------------------------------- the command
class PitchCheck:
    """Scores a sales pitch in the hold band (0.85), other words low."""

    name = "pitch"
    version = "test-1"
    kind = "spam"

    def run_batch(self, contexts: Sequence[CommentContext]) -> list[Verdict]:
        return [Verdict(self.name, self.version, "spam",
                        0.95 if "buy" in c.text else 0.85 if "pitch" in c.text else 0.05, [])
                for c in contexts]


REPEATED = "the very same six words again"
STREAM_ROWS = [
    {"id": "first-pitch", "text": "buy my course", "label": "spam", "author": "Ann",
     "date": "2024-05-01T10:00:00"},
    {"id": "second-pitch", "text": "a pitch for you", "label": "spam", "author": "Ann",
     "date": "2024-05-01T11:00:00"},
    # Listed last, written first: Bob has no history when he posts it.
    *[{"id": f"repeat-{i}", "text": REPEATED, "label": "spam", "author": f"bot-{i}",
       "date": f"2024-05-01T12:0{i}:00"} for i in range(4)],
    {"id": "bob", "text": "a pitch for you", "label": "ham", "author": "Bob",
     "date": "2024-05-01T09:00:00"},
]


def test_stream_replays_history_as_the_worker_sees_it(tmp_path: Path) -> None:
    """Replayed by date: Ann's first comment is marked spam, so her second meets the
    lowered thresholds (spam, not held); Bob's identical text, written before, is held;
    the fourth copy of one text meets three earlier ones (behaviour's repeat signal)."""
    from workers.checks.behaviour import BehaviourCheck

    data = load_labelled_csv(write_csv(tmp_path / "stream.csv", STREAM_ROWS))
    checks = [PitchCheck(), BehaviourCheck()]
    plain = evaluate(data, checks)
    replayed = evaluate(data, checks, stream=True, batch_size=3)
    assert plain.statuses == {"approved": 4, "held": 2, "spam": 1}
    assert plain.stream is None
    # second-pitch: held -> spam; repeat-3: approved -> held (behaviour 0.5).
    assert replayed.statuses == {"approved": 3, "held": 2, "spam": 2}
    assert replayed.checks["behaviour"]["roc_auc"] is not None
    # Repeats as the behaviour check counts them: Bob's 4-word pitch is too short.
    assert replayed.stream == {"ordered_by": "date", "authors": 6,
                               "rows_with_earlier_same_text": 3,
                               "rows_whose_thresholds_moved": 1}
    report = format_report(replayed)
    assert "replayed as a stream (date): 3 rows met the same text earlier, 1 met " \
           "thresholds moved" in report
    # Moved against the thresholds evaluated, not the defaults: none move below 0.2.
    floor = evaluate(data, checks, Policy(hold_threshold=0.2, reject_threshold=0.2),
                     stream=True)
    assert floor.stream is not None
    assert floor.stream["rows_whose_thresholds_moved"] == 0
    # Without dates (or authors) the file order is the stream and nobody has a history.
    undated = write_csv(tmp_path / "undated.csv", [
        {k: v for k, v in row.items() if k != "date"} for row in STREAM_ROWS])
    cli = CliRunner().invoke(main, ["eval", "--data", str(undated), "--json", "--stream"])
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.stdout)["stream"]["ordered_by"] == "file order"


def test_eval_command_json_shape(small_csv: Path) -> None:
    result = CliRunner().invoke(main, ["eval", "--data", str(small_csv), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n"] == 7
    assert report["positives"] == 3
    for name in ("toxicity", "profanity", "spam_text", "links", "bait", "behaviour", "words"):
        assert set(report["checks"][name]) >= {"roc_auc", "avg_precision"}
    assert set(report["decision"]) >= {"precision", "recall", "f1", "hold_rate"}
    assert report["per_second"] > 0
    assert report["decision_own_kind"]["status"] == "spam"


def test_eval_command_text_report_and_options(small_csv: Path) -> None:
    result = CliRunner().invoke(main, ["eval", "--data", str(small_csv), "--site-mode",
                                       "manual", "--skip-check", "profanity"])
    assert result.exit_code == 0, result.output
    assert "hold rate 1.0000" in result.stdout
    assert "profanity" not in result.stdout.split("decision")[0]


@pytest.mark.parametrize("args", [
    ["--data", "/nonexistent/file.csv"],
    ["--data", "BADFILE"],
    ["--data", "GOODFILE", "--skip-check", "nope"],
])
def test_eval_command_errors_are_one_line(tmp_path: Path, small_csv: Path,
                                          args: list[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("id,body\n1,x\n")
    args = [str(bad) if a == "BADFILE" else str(small_csv) if a == "GOODFILE" else a
            for a in args]
    result = CliRunner().invoke(main, ["eval", *args])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output


def test_eval_command_missing_model_artefact(small_csv: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A WARDEN_SPAM_MODEL pointing nowhere fails clearly instead of holding every row."""
    from workers.checks import local_checks

    monkeypatch.setenv("WARDEN_SPAM_MODEL", "/nonexistent/spam.npz")
    local_checks.cache_clear()
    try:
        result = CliRunner().invoke(main, ["eval", "--data", str(small_csv)])
    finally:
        monkeypatch.delenv("WARDEN_SPAM_MODEL")
        local_checks.cache_clear()
    assert result.exit_code != 0
    assert "spam_text could not run" in result.output
    assert "Traceback" not in result.output
