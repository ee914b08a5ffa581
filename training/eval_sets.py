"""Write the derived evaluation CSVs that ``warden eval`` is run on (outside the repository).

Why: the honest spam figure is the pipeline on a YouTube video its model never saw, and the
production constraint is that ordinary prose is not flagged as spam. Both need files cut
from ``shared/data`` (one per video; the clean Jigsaw dev rows relabelled ``ham``). The rows
must not be copied into the project, so this writes them to a scratch folder instead.

    python -m training.eval_sets --out /tmp/warden-eval
    python -m training.train_spam --exclude-video Psy --out /tmp/spam-without-Psy.npz
    WARDEN_SPAM_MODEL=/tmp/spam-without-Psy.npz \
        warden eval --data /tmp/warden-eval/spam_youtube_Psy.csv
    python -m training.train_toxicity --heldout-model --out /tmp/toxicity-heldout.npz
    WARDEN_TOXICITY_MODEL=/tmp/toxicity-heldout.npz \
        warden eval --data /tmp/warden-eval/davidson_test30.csv
"""

from __future__ import annotations

import argparse
import csv
import pathlib
from collections.abc import Sequence

from training.train_toxicity import davidson_split

REPO = pathlib.Path(__file__).resolve().parents[1]
SEED = 20241124  # train_toxicity's default --seed
SPAM = "spam_youtube_dev.csv"
FP_PROBE = "toxicity_jigsaw_wiki_dev.csv"
COLUMNS = ["id", "text", "label"]
# What `warden eval --stream` replays: who wrote each comment and when.
SPAM_COLUMNS = [*COLUMNS, "author", "date"]


def _read(path: pathlib.Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _write(path: pathlib.Path, rows: list[dict[str, str]],
           columns: Sequence[str] = COLUMNS) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {path} ({len(rows)} rows)")


def write_sets(
    data_dir: pathlib.Path, out: pathlib.Path, seed: int = SEED
) -> list[pathlib.Path]:
    """One CSV per YouTube video, the clean Jigsaw dev rows labelled ham, the Davidson split."""
    if out.resolve().is_relative_to(REPO):
        raise SystemExit(f"{out} is inside the repository; labelled rows stay out of it")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    rows = _read(data_dir / SPAM)
    for video in sorted({r["video"] for r in rows}):
        path = out / f"spam_youtube_{video}.csv"
        _write(path, [r for r in rows if r["video"] == video], SPAM_COLUMNS)
        written.append(path)
    clean = [{**r, "label": "ham"} for r in _read(data_dir / FP_PROBE) if r["label"] == "clean"]
    path = out / "jigsaw_dev_clean_as_ham.csv"
    _write(path, clean)
    written.append(path)
    # The 30 % Davidson split that `train_toxicity --heldout-model` does not train on.
    _train, test, _ytr, yte = davidson_split(data_dir, seed)
    path = out / "davidson_test30.csv"
    _write(path, [{"id": f"davidson-test-{i}", "text": t, "label": "toxic" if y else "clean"}
                  for i, (t, y) in enumerate(zip(test, yte, strict=True))])
    written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=pathlib.Path, default=pathlib.Path("../shared/data"))
    ap.add_argument("--out", type=pathlib.Path, required=True, help="e.g. /tmp/warden-eval")
    ap.add_argument("--seed", type=int, default=SEED, help="Davidson split, as train_toxicity")
    args = ap.parse_args(argv)
    write_sets(args.data_dir, args.out, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
