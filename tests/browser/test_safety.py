"""The widget on someone else's page: hostile comments never run or inject anything, the
widget's own allowlist holds even against bad HTML from the service, and the demo page
runs under a strict CSP with Trusted Types."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import DECIDED, Live, Reader, seed, settle
from tests.browser.test_thread import PENDING, my_comments, open_thread, post

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.slow]

PWN = "window.__pwned=1;alert(1)"
BODIES = [
    f"<script>{PWN}</script>",
    f"<img src=x onerror=\"{PWN}\">",
    f"<svg onload=\"{PWN}\"><circle r=5></circle></svg>",
    f"<svg><script>{PWN}</script></svg>",
    f"<iframe srcdoc=\"<script>parent.{PWN}</script>\"></iframe>",
    f"<a href=\"javascript:{PWN}\">plain html link</a>",
    f"[markdown link](javascript:{PWN})",
    f"[mixed case](JaVaScRiPt:{PWN})",
    f"[entity](javascript&#58;{PWN})",
    f"<javascript:{PWN}>",
    "[data url](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    f"![image](x\" onerror=\"{PWN})",
    f"[relative](/logout) and [protocol relative](//evil.example/{PWN})",
    f"<img src=x onerror={PWN}//",
    f"<<script>{PWN}//<</script>",
    f"</textarea><script>{PWN}</script>",
    f"\"><img src=x onerror={PWN}>",
    f"<math><mtext><table><mglyph><style><img src=x onerror=\"{PWN}\">",
    f"<noscript><p title=\"</noscript><img src=x onerror={PWN}>\">",
    f"<details open ontoggle=\"{PWN}\">x</details>",
    "<style>@import 'https://evil.example/x.css';</style>"
    f"<div style=\"background:url(javascript:{PWN})\">styled</div>",
    "{{constructor.constructor('window.__pwned=1;alert(1)')()}} ${alert(1)}",
    "Right-to-left \u202etxt.exe\u202c override and \u2066isolate\u2069 marks",
    f"<form action=\"javascript:{PWN}\"><button>press</button></form>"
    f"<input autofocus onfocus=\"{PWN}\">",
    f"<object data=\"javascript:{PWN}\"></object><embed src=\"javascript:{PWN}\">",
    "**bold** _em_ `code` and a real link: https://news.example/report",
]
NAMES = [
    f"<img src=x onerror=\"{PWN}\">",
    f"<script>{PWN}</script>",
    "Eve \u202eredaeR\u202c",
    f"\"><svg onload={PWN}>",
    "Ann",
]

# Everything a hostile comment could leave behind in the thread, checked in the page.
INSPECT = """(root) => {
  const found = [];
  const safeHref = /^(https?:|mailto:|#warden-c-\\d+$)/i;
  for (const el of root.querySelectorAll('*')) {
    const tag = el.localName;
    if (['script', 'img', 'svg', 'iframe', 'object', 'embed', 'style', 'link', 'meta', 'math',
         'details', 'noscript', 'base', 'video', 'audio', 'source'].includes(tag)) found.push(tag);
    if (tag === 'form' && !el.classList.contains('warden-form')) found.push('form');
    if (tag === 'input' && !el.closest('.warden-form')) found.push('input');
    for (const attr of el.attributes) {
      if (/^on/i.test(attr.name)) found.push(`${tag}[${attr.name}]`);
      if (attr.name === 'style' || attr.name === 'srcdoc') found.push(`${tag}[${attr.name}]`);
      if (/javascript:|data:text/i.test(attr.value)) found.push(`${tag}[${attr.name}]`);
    }
    if (tag === 'a' && el.hasAttribute('href') && !safeHref.test(el.getAttribute('href'))) {
      found.push(`a[href=${el.getAttribute('href')}]`);
    }
  }
  if (/[\\u202a-\\u202e\\u2066-\\u2069]/.test(root.textContent)) found.push('bidi control');
  return {found, pwned: Boolean(window.__pwned)};
}"""


def inspect(page: Page) -> dict[str, Any]:
    return page.locator("#warden-thread").evaluate(INSPECT)


def test_xss_corpus_never_runs_or_injects(live: Live, reader: Reader) -> None:
    page = reader.page
    article = live.unique("xss")
    # Two roots and replies under them, plus the reader's own root: one page of three.
    # Whatever the checks decided, a moderator approves them all (roots first: replies go
    # under published comments).
    roots = seed(live, article, BODIES[:2], names=NAMES, decide=False)
    settle(live, roots)
    rest = seed(live, article, BODIES[2:], names=NAMES[1:] + NAMES[:1], decide=False,
                parents=[roots[i % 2] for i in range(len(BODIES) - 2)])
    settle(live, rest)

    url = live.hosts.article("/xss", article)  # a host page with no CSP: nothing is masked
    open_thread(page, url)
    # The reader's own pending comment is shown from its raw text: as text, never as HTML.
    hostile = f"<img src=x onerror=\"{PWN}\"> **not bold yet**"
    own = post(reader, hostile, name=f"<b onmouseover=\"{PWN}\">Mallory</b>")
    mine = page.locator(f"#warden-c-{own} > article")
    expect(mine.locator(".warden-body")).to_have_text(hostile)
    expect(mine.locator(".warden-author")).to_have_text(f"<b onmouseover=\"{PWN}\">Mallory</b>")
    assert inspect(page) == {"found": [], "pwned": False}

    expect(page.locator(".warden-title")).to_have_text(f"{len(BODIES)} comments")
    settle(live, [own])
    expect(mine).not_to_have_class(PENDING, timeout=DECIDED)
    expect(page.locator(".warden-title")).to_have_text(f"{len(BODIES) + 1} comments")

    page.reload()
    expect(page.locator(".warden-title")).to_have_text(f"{len(BODIES) + 1} comments")
    expect(page.locator(".warden-item")).to_have_count(len(BODIES) + 1)  # all on one page
    for target in page.locator(".warden-body a, .warden-author").all():
        target.hover()  # mouse-over handlers, had any survived
    page.locator(".warden-body a").last.focus()
    assert inspect(page) == {"found": [], "pwned": False}
    # Names are text, exactly as typed (bidi controls removed by the service).
    authors = page.locator(".warden-author").all_inner_texts()
    assert "<img src=x onerror=\"window.__pwned=1;alert(1)\">" in authors
    assert "Eve redaeR" in authors
    # The harmless Markdown still works.
    last = page.locator(f"#warden-c-{rest[-1]} > article .warden-body")
    expect(last.locator("strong")).to_have_text("bold")
    expect(last.locator("a")).to_have_attribute("href", "https://news.example/report")
    expect(last.locator("a")).to_have_attribute("rel", "nofollow ugc noopener noreferrer")
    assert my_comments(page)[-1]["status"] == "approved"


def test_widget_allowlist_holds_against_bad_html_from_the_service(
        live: Live, reader: Reader) -> None:
    """Defence in depth: even if the service's sanitiser let something through."""
    page = reader.page
    bad = {
        "article": {"key": "bad", "url": None, "title": None, "is_open": True,
                    "approved_count": 1},
        "next_cursor": None,
        "comments": [{
            "id": 1, "parent_id": None, "deleted": False, "replies": [],
            "created_at": "2024-05-01T10:00:00+00:00",
            "author_name": f"<img src=x onerror=\"{PWN}\">",
            "html": (f"<p onclick=\"{PWN}\">kept text <img src=x onerror=\"{PWN}\">"
                     f"<a href=\"javascript:{PWN}\">js link</a> <a href=\" javascript:{PWN}\">"
                     f"spaced</a> <a href=\"https://ok.example/\" onmouseover=\"{PWN}\">ok</a>"
                     f"<svg><animate onbegin=\"{PWN}\" attributeName=x dur=1s></animate></svg>"
                     f"<script>{PWN}</script><iframe src=\"javascript:{PWN}\"></iframe>"
                     f"<style>.warden{{display:none}}</style><span style=\"color:red\">"
                     f"span text</span></p>"),
        }],
    }

    def fake_thread(route: Route) -> None:
        route.fulfill(status=200, body=json.dumps(bad), content_type="application/json",
                      headers={"Access-Control-Allow-Origin": "*"})

    page.route(re.compile(r".*/api/v1/sites/demo/comments\?.*"), fake_thread)
    open_thread(page, live.hosts.article("/allowlist", "bad"))
    body = page.locator("#warden-c-1 > article .warden-body")
    expect(body).to_contain_text("kept text")
    expect(body).to_contain_text("span text")
    page.wait_for_timeout(300)  # would-be handlers (onbegin, onerror) get their chance
    assert inspect(page) == {"found": [], "pwned": False}
    expect(body.locator("a[href]")).to_have_count(1)
    expect(body.locator("a[href]")).to_have_attribute("href", "https://ok.example/")
    expect(page.locator("#warden-c-1 .warden-author")).to_have_text(
        f"<img src=x onerror=\"{PWN}\">")
    expect(page.locator(".warden")).to_be_visible()  # the injected <style> did not apply


def test_demo_page_runs_under_strict_csp_and_trusted_types(live: Live, reader: Reader) -> None:
    page = reader.page
    article = "night-trains"
    [seeded] = seed(live, article, ["A **sleeper** to the coast: see https://rail.example/night "
                                    "for times."], names=["Priya"])
    response = page.goto(live.url + f"/demo/{article}")
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "style-src 'self'" in csp
    assert "require-trusted-types-for 'script'" in csp
    expect(page.locator(".warden-root.warden-ready")).to_be_visible()
    body = page.locator(f"#warden-c-{seeded} > article .warden-body")
    expect(body.locator("strong")).to_have_text("sleeper")  # HTML went through the TT policy
    # The stylesheet applied although inline styles are forbidden.
    accent = page.locator(".warden-button").first.evaluate(
        "(el) => getComputedStyle(el).backgroundColor")
    assert accent == "rgb(10, 88, 181)"
    own = post(reader, "Booked a berth for the first night already, thanks for the tip.")
    expect(page.locator(f"#warden-c-{own} > article")).not_to_have_class(
        PENDING, timeout=DECIDED)
    assert page.evaluate("window.__csp") == []
    assert page.evaluate("[...document.querySelectorAll('[style]')].length") == 0
