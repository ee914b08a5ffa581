"""Which moderator moves are reported to Akismet, and as what."""

from __future__ import annotations

import pytest

from service.domain.feedback import verdict_for
from service.models import CommentStatus

S = CommentStatus


@pytest.mark.parametrize(("previous", "target", "spam_flagged", "expected"), [
    (S.HELD, S.SPAM, False, "spam"),  # a miss: the checks let it through to a human
    (S.APPROVED, S.SPAM, False, "spam"),  # a miss that was published
    (S.REJECTED, S.SPAM, False, "spam"),
    (S.SPAM, S.APPROVED, False, "ham"),  # a false positive restored
    (S.HELD, S.APPROVED, True, "ham"),  # held on a spam check's word
    (S.HELD, S.APPROVED, False, None),  # held for another reason (toxicity, manual site)
    (S.REJECTED, S.APPROVED, False, None),  # toxicity is not Akismet's business
    (S.HELD, S.REJECTED, True, None),
    (S.SPAM, S.REJECTED, False, None),
])
def test_verdict_for(previous: CommentStatus, target: CommentStatus, spam_flagged: bool,
                     expected: str | None) -> None:
    assert verdict_for(previous, target, spam_flagged) == expected
