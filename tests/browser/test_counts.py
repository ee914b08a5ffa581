"""count.js on list pages: every count in as few requests as the API allows."""

from __future__ import annotations

import pytest
from playwright.sync_api import Request, expect

from tests.browser.conftest import Live, Reader, seed

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.slow]


def test_list_page_shows_the_approved_counts(live: Live, reader: Reader) -> None:
    page = reader.page
    seed(live, "night-trains", ["Finally a way to the coast without a car.",
                                "Four-berth compartments sound ideal for families."],
         names=["Ola", "Ben"])
    slugs = ["river-cleanup", "night-trains", "library-hours"]
    expected = live.http.get("/api/v1/sites/demo/counts",
                             params=[("article", s) for s in slugs]).json()["counts"]
    assert expected["night-trains"] >= 2
    requests: list[Request] = []
    page.on("request", lambda r: requests.append(r) if "/counts" in r.url else None)
    page.goto(live.url + "/demo/list")
    for slug in slugs:
        n = expected[slug]
        expect(page.locator(f"[data-warden-count='{slug}']")).to_have_text(
            f"{n} comment" if n == 1 else f"{n} comments")
        expect(page.locator(f"[data-warden-count='{slug}']")).to_have_attribute(
            "data-warden-count-value", str(n))
    assert len(requests) == 1  # one request for the whole page


def test_count_js_batches_many_keys_and_long_ones(live: Live, reader: Reader) -> None:
    page = reader.page
    counted = live.unique("counted")
    seed(live, counted, ["One approved comment for the counted article."], names=["Jo"])
    short = [f"story-{n}" for n in range(150)] + [counted]
    long = [f"https://news.example/{n}/" + "very-long-slug-" * 12 for n in range(40)]
    spans = "".join(f'<li><span data-warden-count="{k}">…</span></li>' for k in short + long)
    other_site = '<p data-warden-site="no-such-site"><span data-warden-count="x">kept</span></p>'
    url = live.hosts.add("/many", f'<ul>{spans}</ul>{other_site}'
                                  '<span data-warden-count="story-1" data-warden-format="number">'
                                  '?</span>'
                                  f'<script src="{live.url}/count.js" data-warden-site="demo" '
                                  'defer></script>')
    requests: list[Request] = []
    page.on("request", lambda r: requests.append(r) if "/counts" in r.url else None)
    page.goto(url)
    expect(page.locator(f"[data-warden-count='{counted}']")).to_have_text("1 comment")
    expect(page.locator("[data-warden-count='story-149']")).to_have_text("0 comments")
    expect(page.locator("[data-warden-count-value]")).to_have_count(len(short) + len(long) + 1)
    expect(page.locator("span[data-warden-format=number]")).to_have_text("0")
    expect(page.locator("[data-warden-count='x']")).to_have_text("kept")  # unknown site: left
    demo = [r for r in requests if "/sites/demo/" in r.url]
    per_request = [r.url.count("article=") for r in demo]
    assert sum(per_request) == len(short) + len(long)  # each key asked once
    assert max(per_request) <= 100
    assert all(len(r.url) <= 3600 for r in demo)  # under servers' request-line limits
    assert 3 <= len(demo) <= 5  # 100 short keys, then the rest in URL-sized batches
    # An unknown site answers 404 without CORS headers; Chromium logs that, nothing else.
    reader.watch.console = [m for m in reader.watch.console
                            if "CORS policy" not in m and "net::ERR_FAILED" not in m]
