"""Which events an endpoint receives."""

from __future__ import annotations

from service.domain.webhooks.catalog import EVENT_TYPES, matches, unknown_types


def test_exact_group_and_all() -> None:
    assert matches(["comment.approved"], "comment.approved")
    assert not matches(["comment.approved"], "comment.rejected")
    assert matches(["comment.*"], "comment.rejected")
    assert not matches(["comment.*"], "author.banned")
    assert matches(["*"], "author.banned")
    assert not matches([], "comment.created")


def test_typos_and_unknown_groups_are_reported() -> None:
    assert unknown_types(["comment.aproved", "comment.*", "*", "nope.*", "author.banned",
                          "COMMENT.created", ""]) == ["comment.aproved", "nope.*",
                                                      "COMMENT.created", ""]


def test_catalogue_covers_every_comment_status_event() -> None:
    from service.models import CommentStatus

    for status in CommentStatus:
        if status != CommentStatus.PENDING:
            assert f"comment.{status}" in EVENT_TYPES
    assert "comment.created" in EVENT_TYPES


def test_every_status_a_comment_can_reach_is_a_subscribable_event() -> None:
    from service.domain.webhooks.catalog import EVENT_TYPES
    from service.models import CommentStatus

    for status in CommentStatus:
        assert f"comment.{status}" in EVENT_TYPES
