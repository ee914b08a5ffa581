"""How the widget looks: themes and custom properties, phones from 320 px, no layout shift
while it loads, and the README's screenshots (written to WARDEN_SCREENSHOT_DIR when set,
e.g. ``WARDEN_SCREENSHOT_DIR=docs``; to a temporary folder otherwise)."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Route, expect

from tests.browser.conftest import Live, age_comments, seed
from tests.browser.test_thread import open_thread, post

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.slow]

LIGHT_BG, DARK_BG = "rgb(255, 255, 255)", "rgb(15, 20, 25)"
LIGHT_TEXT, DARK_TEXT = "rgb(31, 35, 40)", "rgb(230, 237, 243)"
COLOURS = "(el) => [getComputedStyle(el).backgroundColor, getComputedStyle(el).color]"


@pytest.fixture(scope="module")
def demo_thread(live: Live) -> str:
    """The /demo article with a small, lived-in thread (for layout and screenshots)."""
    article = "river-cleanup"
    roots = seed(live, article, [
        "I was on the stretch by the old mill. We filled three skips before lunch, and "
        "the kids found the missing road sign. Well organised, thank you!",
        "Could the council publish *where* the trolleys were found? The same spots every "
        "year suggests a few bins would help.",
        "Next one is in September: details at https://river.example/cleanup",
    ], names=["Sam Whitfield", "Amira", "River Trust"])
    [reply] = seed(live, article, ["Agreed. The log sheets should show it; I'll ask at the "
                                   "next ward meeting."], names=["Dana Okafor"],
                   parents=[roots[1]])
    [nested] = seed(live, article, ["Please do, **thank you**."], names=["Amira"],
                    parents=[reply])
    age_comments(live, [roots[0]], timedelta(hours=3))
    age_comments(live, [roots[1]], timedelta(hours=2, minutes=10))
    age_comments(live, [reply], timedelta(hours=1, minutes=35))
    age_comments(live, [nested], timedelta(minutes=48))
    age_comments(live, [roots[2]], timedelta(minutes=12))
    return article


def test_themes_follow_the_system_and_the_override(live: Live, make_reader: Any) -> None:
    page_light = live.hosts.article("/theme-auto", "theme")
    page_dark = live.hosts.article("/theme-dark", "theme", theme="dark")
    page_forced_light = live.hosts.article("/theme-light", "theme", theme="light")
    themed = live.hosts.add(
        "/theme-custom",
        '<div id="warden-thread" data-warden-site="demo" data-warden-article="theme"></div>'
        f'<script src="{live.url}/embed.js" defer></script>',
        head="<style>#warden-thread { --warden-accent: rgb(179, 0, 89); "
             "--warden-font: Georgia, serif; }</style>")
    cases = [(page_light, "light", LIGHT_BG, LIGHT_TEXT), (page_light, "dark", DARK_BG, DARK_TEXT),
             (page_dark, "light", DARK_BG, DARK_TEXT),
             (page_forced_light, "dark", LIGHT_BG, LIGHT_TEXT)]
    for url, scheme, background, text in cases:
        reader = make_reader(color_scheme=scheme)
        open_thread(reader.page, url)
        assert reader.page.locator(".warden").evaluate(COLOURS) == [background, text], (url, scheme)
        reader.context.close()

    reader = make_reader()
    open_thread(reader.page, themed)
    button = reader.page.get_by_role("button", name="Post comment")
    assert button.evaluate("(el) => getComputedStyle(el).backgroundColor") == "rgb(179, 0, 89)"
    assert "Georgia" in reader.page.locator(".warden").evaluate(
        "(el) => getComputedStyle(el).fontFamily")


@pytest.mark.parametrize("width", [320, 360])
def test_narrow_screens_do_not_overflow(live: Live, make_reader: Any, width: int) -> None:
    article = f"narrow-{width}"
    parent = None
    chain = []
    for depth in range(6):  # as deep as replies go
        [parent] = seed(live, article, [
            f"Level {depth}: https://news.example/a/very/long/path/without/any/breaks/"
            f"{'x' * 60} and Supercalifragilisticexpialidociousandevenlongerwordsthanthat"],
            names=["A rather long display name for a small screen"],
            parents=[parent])
        chain.append(parent)
    reader = make_reader(width=width, height=740)
    page = reader.page
    open_thread(page, live.hosts.article(f"/narrow-{width}", article))
    expect(page.locator(f"#warden-c-{chain[-1]}")).to_be_visible()
    page.locator(f"#warden-c-{chain[-1]} > article").get_by_role("button", name="Report",
                                                                 exact=True).click()
    overflow = page.evaluate("""() => {
      const limit = window.innerWidth + 0.5;
      const wide = [...document.querySelectorAll('.warden *')]
        .filter((el) => el.getBoundingClientRect().right > limit)
        .map((el) => el.className || el.localName);
      return {page: document.documentElement.scrollWidth, wide};
    }""")
    assert overflow == {"page": width, "wide": []}
    small = page.evaluate("""() => [...document.querySelectorAll('.warden button, .warden select,'
      + ' .warden input:not([tabindex="-1"]):not([type=radio]), .warden textarea')]
      .filter((el) => el.offsetParent !== null && el.getBoundingClientRect().height < 24)
      .map((el) => el.textContent)""")
    assert small == []  # WCAG 2.2 target size minimum


def test_no_layout_shift_while_the_thread_loads(live: Live, make_reader: Any,
                                                demo_thread: str) -> None:
    reader = make_reader(width=1280, height=900)
    page = reader.page
    page.add_init_script("""
      window.__shift = 0;
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) {
          if (!entry.hadRecentInput) window.__shift += entry.value;
        }
      }).observe({type: 'layout-shift', buffered: true});""")

    held: list[Route] = []  # a slow network: the thread answers only when released
    page.route(re.compile(r".*/api/v1/sites/demo/comments\?.*"), lambda route: held.append(route))
    page.goto(live.url + "/demo")
    expect(page.locator(".warden-skeleton").first).to_be_visible()
    expect(page.locator(".warden-list")).to_have_attribute("aria-busy", "true")
    expect(page.get_by_role("form", name="Write a comment")).to_be_visible()
    page.wait_for_timeout(800)
    assert len(held) == 1
    held[0].continue_()
    expect(page.locator(".warden-root.warden-ready")).to_be_visible(timeout=15_000)
    assert page.locator(".warden-root").bounding_box()["y"] < 900  # the widget is in view
    page.wait_for_timeout(500)
    shift = page.evaluate("window.__shift")
    assert shift < 0.01, f"cumulative layout shift {shift:.3f}"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots(live: Live, make_reader: Any, demo_thread: str, scheme: str,
                     tmp_path: Path) -> None:
    folder = Path(os.environ.get("WARDEN_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    for label, width, height in (("desktop", 1280, 900), ("mobile", 360, 780)):
        reader = make_reader(width=width, height=height, color_scheme=scheme)
        page = reader.page
        open_thread(page, live.url + "/demo")
        # One's own comment, sent in a hurry: held for a moderator, shown only to its author.
        post(reader, "Is there a list of what was found? Asking for my neighbour's bicycle.",
             name="Jonas", pause=False)
        expect(page.locator(".warden-pending .warden-state")).to_contain_text(
            "waiting for a moderator", timeout=30_000)
        page.evaluate("document.activeElement.blur()")
        page.mouse.move(0, 0)
        page.evaluate("window.scrollTo(0, 0)")  # bounding boxes are then page coordinates
        box = page.locator(".comments").bounding_box()
        assert box is not None
        target = folder / f"widget-{label}-{scheme}.png"
        margin = 12 if width > 400 else 0
        page.screenshot(path=str(target), animations="disabled", full_page=True,
                        clip={"x": box["x"] - margin, "y": box["y"] - margin,
                              "width": box["width"] + 2 * margin,
                              "height": box["height"] + 2 * margin})
        assert target.stat().st_size > 10_000
        reader.context.close()
