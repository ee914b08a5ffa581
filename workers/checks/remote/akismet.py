"""Akismet (https://akismet.com/developers/): comment-check, and submit-spam/-ham feedback.

Scores on the policy's common scale: "blatant" spam (``X-akismet-pro-tip: discard``) 0.97,
plain spam 0.90 (the default reject threshold: marked spam, where a moderator can restore
it; a site with a stricter reject threshold holds it instead), not spam 0.05.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import httpx

from workers.checks.base import CommentContext, Kind, Verdict
from workers.checks.remote.calls import NoOpinion, clip, each, guarded, timeouts

SPAM_BLATANT = 0.97
SPAM = 0.90
HAM = 0.05
THANKS = "Thanks for making the web a better place."
USER_AGENT = "CommentWarden/0.1 | Akismet/1.1"


@dataclass(frozen=True)
class AkismetAnswer:
    spam: bool
    discard: bool


class AkismetClient:
    """The three calls Comment Warden makes; the key is sent in the form, never in a URL."""

    def __init__(self, key: str, base_url: str, timeout: float) -> None:
        self._key = key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def __repr__(self) -> str:  # no key in reprs, tracebacks or logs
        return f"AkismetClient({self.base_url!r})"

    def session(self) -> httpx.Client:
        return httpx.Client(timeout=timeouts(self.timeout), headers={"User-Agent": USER_AGENT},
                            follow_redirects=False)

    def comment_check(self, http: httpx.Client, params: dict[str, str]) -> AkismetAnswer:
        response = self._post(http, "comment-check", params)
        body = response.text.strip()
        if body == "true":
            discard = response.headers.get("X-akismet-pro-tip", "").strip().lower() == "discard"
            return AkismetAnswer(spam=True, discard=discard)
        if body == "false":
            return AkismetAnswer(spam=False, discard=False)
        raise NoOpinion(self._refusal(response))

    def submit(self, http: httpx.Client, verdict: Literal["spam", "ham"],
               params: dict[str, str]) -> None:
        """submit-spam / submit-ham; raises NoOpinion unless Akismet thanks us."""
        response = self._post(http, f"submit-{verdict}", params)
        if response.text.strip() != THANKS:
            raise NoOpinion(self._refusal(response))

    def _post(self, http: httpx.Client, call: str, params: dict[str, str]) -> httpx.Response:
        response = http.post(f"{self.base_url}/1.1/{call}",
                             data={"api_key": self._key, **params})
        if not response.is_success:
            raise NoOpinion(f"akismet {call} answered HTTP {response.status_code}")
        return response

    @staticmethod
    def _refusal(response: httpx.Response) -> str:
        help_ = response.headers.get("X-akismet-debug-help", "")
        what = clip(response.text, 60) or "an empty body"
        return f"akismet answered {what!r}" + (f" ({clip(help_)})" if help_ else "")


def akismet_params(context: CommentContext, *, blog: str, is_test: bool,
                   languages: str = "auto") -> dict[str, str]:
    """The documented comment parameters, from what the pipeline gathered."""
    site = blog or context.site_url or _origin(context.permalink)
    if not site:
        raise NoOpinion("no site URL to send as blog (set WARDEN_AKISMET_BLOG or a site "
                        "origin)")
    if not context.user_ip:
        raise NoOpinion("no reader address stored for this comment")
    params = {
        "blog": site,
        "user_ip": context.user_ip,
        "user_agent": context.user_agent or "",
        "referrer": context.referrer or "",
        "permalink": context.permalink or "",
        "comment_type": "reply" if context.is_reply else "comment",
        "comment_author": context.author_name,
        "comment_content": context.text,
        "blog_charset": "UTF-8",
    }
    if languages != "auto":
        params["blog_lang"] = languages
    if is_test or context.is_test:
        params["is_test"] = "1"
    return params


def _origin(url: str | None) -> str:
    if not url:
        return ""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


class AkismetCheck:
    """Asks Akismet's comment-check about each comment (in parallel, bounded)."""

    name = "akismet"
    version = "api-1.1"
    kind: Kind = "spam"

    def __init__(self, client: AkismetClient, *, blog: str = "", is_test: bool = False,
                 languages: str = "auto") -> None:
        self.client = client
        self.blog = blog
        self.is_test = is_test
        self.languages = languages

    def run_batch(self, contexts: Sequence[CommentContext]) -> list[Verdict | None]:
        with self.client.session() as http:
            def one(context: CommentContext) -> Verdict | None:
                return guarded(self.name, lambda c: self._ask(http, c), context)

            return each(contexts, one)

    def _ask(self, http: httpx.Client, context: CommentContext) -> Verdict:
        params = akismet_params(context, blog=self.blog, is_test=self.is_test,
                                languages=self.languages)
        answer = self.client.comment_check(http, params)
        if answer.spam and answer.discard:
            score, reason = SPAM_BLATANT, "Akismet: blatant spam, it advises discarding unseen"
        elif answer.spam:
            score, reason = SPAM, "Akismet: spam"
        else:
            score, reason = HAM, "Akismet: not spam"
        return Verdict(self.name, self.version, self.kind, score, [reason])
