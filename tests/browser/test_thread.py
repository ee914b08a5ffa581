"""Reading and writing the thread as readers do: post, reply, pending, decisions, sorting,
load more, keyboard only, edit and delete within the window, reports, errors in words."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from service.models import Comment, CommentStatus, Flag
from tests.browser.conftest import (
    DECIDED,
    Live,
    Reader,
    age_comments,
    comment_ids,
    edit_site,
    seed,
    settle,
    statuses,
    wait_status,
)

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.slow]

PENDING = re.compile(r"\bwarden-pending\b")
TOXIC = "You are a worthless idiot, shut your stupid mouth you moron."


def open_thread(page: Page, url: str) -> Locator:
    page.goto(url)
    root = page.locator(".warden-root.warden-ready")
    expect(root).to_be_visible()
    return root


def my_comments(page: Page) -> list[dict[str, Any]]:
    return page.evaluate("JSON.parse(localStorage.getItem('warden:demo:mine') || '[]')")


def comment(page: Page, comment_id: int) -> Locator:
    return page.locator(f"#warden-c-{comment_id} > article")


def write(form: Locator, text: str, name: str | None = "Maria") -> None:
    if name is not None:
        form.get_by_label("Name").fill(name)
    form.locator("textarea[name=body]").fill(text)


def post(reader: Reader, text: str, *, name: str | None = "Maria",
         form: Locator | None = None, pause: bool = True) -> int:
    """Fill and send a form the way a reader does; return the new comment's id."""
    page = reader.page
    form = form or page.get_by_role("form", name="Write a comment")
    before = len(my_comments(page))
    write(form, text, name)
    if pause:
        reader.pause()
    form.locator("button[type=submit]").click()
    page.wait_for_function(
        "(n) => JSON.parse(localStorage.getItem('warden:demo:mine') || '[]').length > n",
        arg=before)
    return int(my_comments(page)[-1]["id"])


def test_demo_post_and_reply_go_from_pending_to_published(live: Live, reader: Reader) -> None:
    page = reader.page
    open_thread(page, live.url + "/demo/library-hours")
    title = page.locator(".warden-title")
    expect(title).to_have_text("Comments")
    expect(page.locator(".warden-empty")).to_have_text("No comments yet. Start the conversation.")
    form = page.get_by_role("form", name="Write a comment")
    text = "Sunday opening is great news for families who work all week."
    write(form, text)
    expect(form.locator(".warden-counter")).to_have_text(f"{len(text)} / 5000")

    reader.pause()
    form.get_by_role("button", name="Post comment").click()
    expect(page.locator(".warden-sr")).to_have_text(
        "Your comment was sent and is awaiting moderation.")
    first = int(my_comments(page)[-1]["id"])
    mine = comment(page, first)
    expect(mine).to_have_class(PENDING)  # the reader's own comment, before any decision
    expect(mine.locator(".warden-badge")).to_have_text("Awaiting moderation")
    expect(mine.locator(".warden-state")).to_have_text(
        "Your comment is awaiting moderation. Only you can see it until it is approved.")
    expect(form.locator("textarea")).to_have_value("")

    # The worker approves clean text; the page learns it by polling and shows it in place.
    expect(mine).not_to_have_class(PENDING, timeout=DECIDED)
    expect(mine.locator(".warden-body")).to_have_text(text)
    expect(mine.locator(".warden-badge")).to_have_text("You")
    expect(title).to_have_text("1 comment")
    expect(page.locator(".byline [data-warden-count]")).to_have_text("1 comment")
    stamp = mine.locator("time")
    expect(stamp).to_have_text("just now")
    assert re.search(r"\d{4}", stamp.get_attribute("title") or ""), "exact time on hover"

    mine.get_by_role("button", name="Reply").click()
    reply_form = page.get_by_role("form", name="Reply to Maria")
    expect(reply_form.get_by_label("Name")).to_have_value("Maria")  # remembered
    expect(reply_form.locator("textarea")).to_be_focused()
    reply_text = "The children's floor on Sundays will be busy, I expect."
    reply_id = post(reader, reply_text, name=None, form=reply_form)
    reply = page.locator(f"#warden-c-{first} .warden-replies #warden-c-{reply_id} > article")
    expect(reply).to_have_class(PENDING)
    expect(reply).not_to_have_class(PENDING, timeout=DECIDED)
    expect(title).to_have_text("2 comments")

    page.reload()
    expect(page.locator(f"#warden-c-{first} .warden-replies #warden-c-{reply_id}")).to_be_visible()
    expect(title).to_have_text("2 comments")
    thread = live.http.get("/api/v1/sites/demo/comments",
                           params={"article": "library-hours"}).json()
    assert [c["id"] for c in thread["comments"]] == [first]
    assert [r["id"] for r in thread["comments"][0]["replies"]] == [reply_id]
    assert page.evaluate("localStorage.getItem('warden:demo:token')").startswith('"at_')


def test_held_comment_waits_across_reloads_until_a_moderator_decides(
        live: Live, reader: Reader) -> None:
    page = reader.page
    canonical = "https://blog.example/" + live.unique("posts/held")
    url = live.hosts.add(
        "/held", f'<div id="warden-thread" data-warden-site="demo"></div>'
                 f'<script src="{live.url}/embed.js" defer></script>',
        head=f'<link rel="canonical" href="{canonical}">')
    open_thread(page, url)
    # Sent straight away (no time to read): the time-to-submit signal holds it for a human.
    held = post(reader, "First! Posting before reading, as people do.", pause=False)
    assert comment_ids(live, canonical) == [held]  # the article key is the canonical URL
    mine = comment(page, held)
    expect(mine.locator(".warden-state")).to_contain_text(
        "Your comment is waiting for a moderator.", timeout=DECIDED)
    assert statuses(live, [held])[held] == CommentStatus.HELD

    page.reload()
    expect(mine.locator(".warden-state")).to_contain_text(
        "Your comment is waiting for a moderator.")
    expect(mine.locator(".warden-body")).to_have_text(
        "First! Posting before reading, as people do.")
    expect(page.locator(".warden-title")).to_have_text("Comments")

    settle(live, [held])  # a moderator approves it
    expect(mine).not_to_have_class(PENDING, timeout=DECIDED)
    expect(page.locator(".warden-title")).to_have_text("1 comment")
    expect(page.locator(".warden-sr")).to_have_text("Your comment is published.")


def test_rejected_comment_is_explained_politely(live: Live, reader: Reader) -> None:
    page = reader.page
    open_thread(page, live.hosts.article("/rejected", live.unique("rejected")))
    refused = post(reader, TOXIC, name="Troll")
    mine = comment(page, refused)
    expect(mine.locator(".warden-badge")).to_have_text("Not published", timeout=DECIDED)
    expect(mine.locator(".warden-state")).to_contain_text(
        "Your comment was not published because it breaks the site's rules.")
    expect(mine.get_by_role("button", name="Edit")).to_have_count(0)  # the server refuses
    expect(page.locator(".warden-title")).to_have_text("Comments")
    mine.get_by_role("button", name="Dismiss").click()
    expect(mine).to_have_count(0)
    expect(page.locator(".warden-title")).to_be_focused()
    page.reload()
    expect(page.locator(".warden-empty")).to_be_visible()
    assert my_comments(page) == []
    for order in ("newest", "oldest"):  # a new order reloads the list: still says empty
        page.get_by_label("Sort").select_option(order)
        expect(page.locator(".warden-empty")).to_be_visible()


def test_a_published_comment_removed_later_is_explained_to_its_author(
        live: Live, reader: Reader) -> None:
    from service.domain.lifecycle import Actor, transition
    from service.extensions import db
    from service.sqlite import intends_to_write

    page = reader.page
    open_thread(page, live.hosts.article("/removed-later", live.unique("removed-later")))
    published = post(reader, "A remark that is fine today.")
    settle(live, [published])
    mine = comment(page, published)
    expect(mine).not_to_have_class(PENDING, timeout=DECIDED)
    with live.app.app_context(), intends_to_write():  # a moderator changes their mind
        transition(db.session, db.session.get(Comment, published), CommentStatus.REJECTED,
                   Actor("moderator", "test"), "off topic")
        db.session.commit()
        db.session.remove()
    page.reload()
    expect(mine.locator(".warden-badge")).to_have_text("Not published")
    expect(mine.locator(".warden-state")).to_contain_text("not published")
    expect(mine.locator(".warden-body")).to_have_text("A remark that is fine today.")
    expect(page.locator(".warden-title")).to_have_text("Comments")  # not counted
    mine.get_by_role("button", name="Dismiss").click()
    page.reload()
    expect(page.locator(".warden-empty")).to_be_visible()


def test_sort_and_load_more_by_cursor(live: Live, reader: Reader) -> None:
    page = reader.page
    article = live.unique("sorting")
    names = [f"Reader {n}" for n in range(1, 8)]
    ids = seed(live, article, [f"Observation number {n} about the timetable changes."
                               for n in range(1, 8)], names=names)
    open_thread(page, live.hosts.article("/sorting", article))
    items = page.locator(".warden-list > .warden-item")
    authors = page.locator(".warden-list > .warden-item > article .warden-author")
    more = page.get_by_role("button", name="Load more comments")

    expect(page.locator(".warden-title")).to_have_text("7 comments")  # the total, not the page
    expect(authors).to_have_text(names[:3])  # page size 3, oldest first
    more.click()
    expect(authors).to_have_text(names[:6])
    expect(page.locator(".warden-sr")).to_have_text("3 more comments loaded.")
    more.click()
    expect(authors).to_have_text(names)
    expect(more).to_be_hidden()
    expect(comment(page, ids[6])).to_be_focused()  # the button went away: focus the new one

    page.get_by_label("Sort").select_option("newest")
    expect(authors).to_have_text(names[::-1][:3])
    expect(page.locator(".warden-sr")).to_have_text("Showing newest comments first.")
    page.reload()  # the choice is remembered
    expect(page.get_by_label("Sort")).to_have_value("newest")
    expect(authors).to_have_text(names[::-1][:3])
    more.click()
    expect(items).to_have_count(6)


def test_a_permalink_to_a_later_page_loads_it(live: Live, reader: Reader) -> None:
    """A link to a comment on page 3 (a shared permalink, a moderator's link): the widget
    fetches pages until the comment is there and scrolls to it."""
    page = reader.page
    article = live.unique("permalink")
    ids = seed(live, article, [f"Remark number {n} on the bridge repairs." for n in range(1, 9)])
    url = live.hosts.article("/permalink", article)
    page.goto(f"{url}#warden-c-{ids[7]}")  # page size 3: the eighth is on page 3
    target = comment(page, ids[7])
    expect(target).to_be_visible()
    expect(target).to_be_in_viewport()
    expect(page.locator(".warden-list > .warden-item")).to_have_count(8)
    expect(page.get_by_role("button", name="Load more comments")).to_be_hidden()
    # A link to a comment that is not (or no longer) in the thread loads a bounded number
    # of pages and leaves the page usable.
    page.goto(f"{url}?again#warden-c-999999")  # a new document, not a hash change
    expect(page.locator(".warden-list > .warden-item")).to_have_count(8)
    expect(page.locator(".warden-root.warden-ready")).to_be_visible()


def test_keyboard_only_posting_and_replying(live: Live, reader: Reader) -> None:
    page = reader.page
    open_thread(page, live.hosts.article("/keyboard", live.unique("keyboard")))
    page.locator("body").focus()

    def tab_to(selector: str, limit: int = 40) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            focused = page.evaluate(
                "(selector) => { const el = document.activeElement; const s = getComputedStyle(el);"
                " return {name: el.name || '', tag: el.tagName, outline: s.outlineStyle,"
                " width: parseFloat(s.outlineWidth), match: el.matches(selector)}; }", selector)
            assert focused["name"] != "website", "the honeypot must not be focusable"
            assert focused["outline"] != "none", f"no visible focus on {focused}"
            assert focused["width"] >= 2, f"no visible focus on {focused}"
            if focused["match"]:
                return
        raise AssertionError(f"{selector} not reached with Tab")

    tab_to("input[name=author_name]")
    page.keyboard.type("Kai")
    tab_to("textarea[name=body]")
    page.keyboard.type("Typed without a mouse: the timetable is clear.")
    reader.pause()
    tab_to("button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => JSON.parse(localStorage.getItem('warden:demo:mine') || '[]').length > 0")
    first = int(my_comments(page)[-1]["id"])
    mine = comment(page, first)
    expect(mine).to_be_focused()  # focus follows the new comment
    expect(mine).not_to_have_class(PENDING, timeout=DECIDED)

    tab_to(f"#warden-c-{first} button.warden-action")  # Reply
    page.keyboard.press("Enter")
    expect(page.get_by_role("form", name="Reply to Kai").locator("textarea")).to_be_focused()
    page.keyboard.type("And a reply, by keyboard too.")
    reader.pause()
    tab_to("form[aria-label='Reply to Kai'] button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator(f"#warden-c-{first} .warden-replies .warden-item")).to_have_count(1)
    reply = int(my_comments(page)[-1]["id"])
    expect(comment(page, reply)).not_to_have_class(PENDING, timeout=DECIDED)
    expect(page.locator(".warden-title")).to_have_text("2 comments")


def test_edit_own_comment_is_moderated_again(live: Live, reader: Reader) -> None:
    page = reader.page
    open_thread(page, live.hosts.article("/edit", live.unique("edit")))
    own = post(reader, "The second paragraph has a typo in the date.")
    mine = comment(page, own)
    expect(mine).not_to_have_class(PENDING, timeout=DECIDED)
    expect(page.locator(".warden-title")).to_have_text("1 comment")

    mine.get_by_role("button", name="Edit").click()
    editor = mine.get_by_label("Edit your comment", exact=True)
    expect(editor).to_be_focused()
    expect(editor).to_have_value("The second paragraph has a typo in the date.")
    editor.fill("The second paragraph has a typo in the date (it says 2019).")
    mine.get_by_role("button", name="Save").click()
    expect(mine).to_have_class(PENDING)  # an edit is moderated again, and uncounted meanwhile
    expect(page.locator(".warden-title")).to_have_text("Comments")
    expect(mine).not_to_have_class(PENDING, timeout=DECIDED)
    expect(mine.locator(".warden-body")).to_have_text(
        "The second paragraph has a typo in the date (it says 2019).")
    expect(page.locator(".warden-title")).to_have_text("1 comment")


def test_delete_own_comment_leaves_a_placeholder_for_replies(live: Live, reader: Reader) -> None:
    page = reader.page
    article = live.unique("delete")
    open_thread(page, live.hosts.article("/delete", article))
    parent = post(reader, "Does anyone know when the consultation closes?")
    alone = post(reader, "Found it myself, never mind the question above.")
    expect(comment(page, alone)).not_to_have_class(PENDING, timeout=DECIDED)
    expect(comment(page, parent)).not_to_have_class(PENDING, timeout=DECIDED)
    [answer] = seed(live, article, ["It closes at the end of the month, see the council site."],
                    names=["Lena"], parents=[parent])
    page.reload()
    expect(page.locator(".warden-title")).to_have_text("3 comments")

    comment(page, parent).get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("group", name="Delete your comment")
    expect(dialog.get_by_role("button", name="Keep it")).to_be_focused()
    dialog.get_by_role("button", name="Delete").click()
    expect(comment(page, parent)).to_have_text("This comment was removed.")
    expect(comment(page, answer)).to_contain_text("It closes at the end of the month")
    expect(page.locator(".warden-title")).to_have_text("2 comments")

    comment(page, alone).get_by_role("button", name="Delete").click()
    page.get_by_role("group", name="Delete your comment").get_by_role(
        "button", name="Delete").click()
    expect(page.locator(f"#warden-c-{alone}")).to_have_count(0)
    expect(page.locator(".warden-title")).to_have_text("1 comment")
    expect(page.locator(".warden-sr")).to_have_text("Your comment was deleted.")

    page.reload()  # the API keeps the placeholder, and the counts followed
    expect(comment(page, parent)).to_have_text("This comment was removed.")
    expect(comment(page, answer)).to_be_visible()
    expect(page.locator(f"#warden-c-{alone}")).to_have_count(0)
    assert live.http.get("/api/v1/sites/demo/counts",
                         params={"article": article}).json()["counts"][article] == 1


def test_edit_window_closes_in_the_page_and_on_the_server(live: Live, reader: Reader) -> None:
    page = reader.page
    open_thread(page, live.hosts.article("/window", live.unique("window")))
    first = post(reader, "A comment I will leave as it is.")
    second = post(reader, "A comment I try to change too late.")
    for one in (first, second):
        expect(comment(page, one)).not_to_have_class(PENDING, timeout=DECIDED)
    expect(comment(page, first).get_by_role("button", name="Edit")).to_be_visible()

    comment(page, second).get_by_role("button", name="Edit").click()
    age_comments(live, [second], timedelta(minutes=20))  # the server's clock says: too late
    comment(page, second).get_by_label("Edit your comment", exact=True).fill("Changed after all.")
    comment(page, second).get_by_role("button", name="Save").click()
    expect(comment(page, second).locator(".warden-error")).to_have_text(
        "It is too late to change this comment: comments can be changed for 10 minutes "
        "after posting.")
    expect(comment(page, second).get_by_role("button", name="Delete")).to_have_count(0)
    assert wait_status(live, second, {CommentStatus.APPROVED}) == CommentStatus.APPROVED

    page.clock.fast_forward("11:00")  # ten minutes on: the page hides the controls itself
    expect(comment(page, first).get_by_role("button", name="Edit")).to_have_count(0)
    expect(comment(page, first).get_by_role("button", name="Reply")).to_be_visible()


def test_report_once_per_reader(live: Live, reader: Reader, make_reader: Any) -> None:
    page = reader.page
    article = live.unique("report")
    [target] = seed(live, article, ["Buy cheap watches, the best prices in town, honestly."],
                    names=["Seller"])
    url = live.hosts.article("/report", article)
    open_thread(page, url)
    report = comment(page, target).get_by_role("button", name="Report", exact=True)
    report.click()
    expect(report).to_have_attribute("aria-expanded", "true")
    form = page.get_by_role("form", name="Report this comment")
    reasons = [r["label"] for r in live.http.get("/api/v1/flag-reasons").json()["reasons"]]
    expect(form.locator("label.warden-reason")).to_have_text(reasons)
    form.get_by_role("button", name="Send report").click()
    expect(form.locator(".warden-error")).to_have_text("Please choose a reason.")
    form.get_by_label("Spam or advertising").check()
    form.get_by_label("Anything a moderator should know?").fill("Posted on every article.")
    form.get_by_role("button", name="Send report").click()
    expect(comment(page, target).locator(".warden-thanks")).to_have_text(
        "Thank you. A moderator will take a look.")
    expect(comment(page, target).get_by_role("button", name="Reported")).to_be_disabled()

    page.reload()  # remembered in this browser
    expect(comment(page, target).get_by_role("button", name="Reported")).to_be_disabled()

    # The same person in a fresh browser (same address): the service says it already knows.
    other = make_reader()
    open_thread(other.page, url)
    comment(other.page, target).get_by_role("button", name="Report", exact=True).click()
    other.page.get_by_label("Off topic").check()
    other.page.get_by_role("button", name="Send report").click()
    expect(comment(other.page, target).locator(".warden-thanks")).to_have_text(
        "You have already reported this comment.")

    from service.extensions import db

    with live.app.app_context():
        flags = db.session.query(Flag).filter_by(comment_id=target).all()
        assert [(f.reason.value, f.note) for f in flags] == [("spam", "Posted on every article.")]
        db.session.remove()


def test_errors_are_shown_next_to_the_form_in_words(live: Live, reader: Reader) -> None:
    page = reader.page
    open_thread(page, live.hosts.article("/errors", live.unique("errors")))
    form = page.get_by_role("form", name="Write a comment")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)

    form.get_by_role("button", name="Post comment").click()  # nothing filled in
    expect(form.locator(".warden-error")).to_have_text("Please correct the marked fields.")
    expect(form.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    expect(form.locator(".warden-field-error")).to_have_text(
        ["Please enter your name.", "Please write your comment first."])
    expect(form.get_by_label("Name")).to_be_focused()

    write(form, "x" * 5001)
    expect(form.locator(".warden-counter")).to_have_text("5001 / 5000: 1 too many")
    expect(form.locator(".warden-counter")).to_have_class(re.compile("warden-over"))
    form.get_by_role("button", name="Post comment").click()
    expect(form.locator(".warden-field-error")).to_have_text(
        "Your comment is 1 character too long; the limit is 5000.")
    assert posts == []  # refused in the page: nothing was sent

    # The service's own answers, as the API sends them.
    page.route("**/api/v1/sites/demo/comments", lambda route: route.fulfill(
        status=429, headers={"Retry-After": "7", "Access-Control-Allow-Origin": "*",
                             "Access-Control-Expose-Headers": "Retry-After"},
        json={"error": {"code": "rate_limited", "message": "10 per 1 minute"}}))
    write(form, "A fair point about the buses.")
    form.get_by_role("button", name="Post comment").click()
    expect(form.locator(".warden-error")).to_have_text(
        "You are posting too quickly. Please wait 7 seconds and try again.")
    expect(form.get_by_role("button", name="Post comment")).to_be_disabled()
    # The disabled button lost the focus: it goes back to the text, not to <body>.
    expect(form.locator("textarea[name=body]")).to_be_focused()
    page.unroute("**/api/v1/sites/demo/comments")

    # An origin the site does not allow: the browser refuses the thread (CORS), and the
    # site's public settings say why, for the site's admin to fix (not "network error").
    foreign = live.hosts.origin.replace("127.0.0.1", "localhost")
    page.goto(foreign + "/errors")
    expect(page.locator(".warden-notice")).to_contain_text(
        f"its address ({foreign}) is not among the allowed origins of the site \"demo\"")
    expect(page.get_by_role("button", name="Try again")).to_have_count(0)
    expect(page.get_by_role("form", name="Write a comment")).to_be_hidden()
    reader.watch.console = [m for m in reader.watch.console  # what Chromium says about it
                            if "CORS policy" not in m and "net::ERR_FAILED" not in m]
    # A site that does not exist: said in words too (a typo in data-warden-site).
    page.goto(live.hosts.article("/no-such-site", "a", site="no-such-site"))
    expect(page.locator(".warden-notice")).to_contain_text(
        "Comments could not be loaded. No site 'no-such-site'.")
    reader.watch.console = [m for m in reader.watch.console
                            if "404" not in m and "CORS policy" not in m
                            and "net::ERR_FAILED" not in m]


def test_post_moderation_shows_the_text_at_once_and_a_pull_back(live: Live,
                                                                reader: Reader) -> None:
    """A post-moderated site publishes at once: the reader's own comment shows its text
    (it showed an empty body), is announced as published (not "awaiting moderation"),
    and one the checks pull back afterwards says so without a reload."""
    page = reader.page
    edit_site(live, mode="post")
    try:
        open_thread(page, live.hosts.article("/post-mode", live.unique("post-mode")))
        kept = post(reader, "Published at once, and a fine remark.")
        expect(comment(page, kept).locator(".warden-body")).to_have_text(
            "Published at once, and a fine remark.")
        expect(page.locator(".warden-sr")).to_have_text("Your comment is published.")
        pulled = post(reader, TOXIC, name="Troll")
        expect(comment(page, pulled).locator(".warden-badge")).to_have_text(
            "Not published", timeout=DECIDED)
        assert wait_status(live, pulled, {CommentStatus.REJECTED, CommentStatus.HELD}) in {
            CommentStatus.REJECTED, CommentStatus.HELD}
        expect(page.locator(".warden-title")).to_have_text("1 comment")
    finally:
        edit_site(live, mode="auto")


def test_try_again_also_fetches_the_site_settings(live: Live, reader: Reader) -> None:
    """The first load failed (site settings and thread): "Try again" must fetch the
    settings too, or the page goes on with its defaults (here: replies 5 deep, where the
    site allows 1)."""
    page = reader.page
    article = live.unique("retry-info")
    [root] = seed(live, article, ["A root comment worth answering."])
    [reply] = seed(live, article, ["A reply, as deep as this site goes."], parents=[root])
    edit_site(live, max_depth=1)
    try:
        page.route("**/api/v1/sites/demo**", lambda route: route.abort())
        page.goto(live.hosts.article("/retry-info", article))
        expect(page.get_by_role("button", name="Try again")).to_be_visible()
        page.unroute("**/api/v1/sites/demo**")
        reader.watch.console = [m for m in reader.watch.console  # the aborted requests
                                if "net::ERR_FAILED" not in m]
        page.get_by_role("button", name="Try again").click()
        expect(comment(page, reply)).to_be_visible()
        expect(comment(page, root).get_by_role("button", name="Reply")).to_be_visible()
        expect(comment(page, reply).get_by_role("button", name="Reply")).to_have_count(0)
    finally:
        edit_site(live, max_depth=None)


def test_a_comment_approved_while_its_reader_was_away_is_counted_once(
        live: Live, reader: Reader) -> None:
    """The reader left while their comment was pending and comes back after it was
    approved: the thread's count includes it, and the page shows it from the reader's own
    list (it is on a later page). It must not be counted a second time."""
    page = reader.page
    article = live.unique("away")
    seed(live, article, [f"An earlier approved remark, number {i}." for i in range(3)])
    open_thread(page, live.hosts.article("/away", article))
    mine = post(reader, "My own remark, approved while I was away.")
    assert wait_status(live, mine, {CommentStatus.APPROVED}) == CommentStatus.APPROVED
    expect(page.locator(".warden-title")).to_have_text("4 comments", timeout=DECIDED)
    # What the page had stored when the reader left: still pending.
    page.evaluate("""() => {
        const mine = JSON.parse(localStorage.getItem('warden:demo:mine'));
        for (const entry of mine) entry.status = 'pending';
        localStorage.setItem('warden:demo:mine', JSON.stringify(mine));
    }""")
    page.reload()
    expect(comment(page, mine)).not_to_have_class(PENDING, timeout=DECIDED)
    expect(page.locator(".warden-title")).to_have_text("4 comments")
    page.wait_for_timeout(1500)  # the count settles (a second increment came after this)
    expect(page.locator(".warden-title")).to_have_text("4 comments")
