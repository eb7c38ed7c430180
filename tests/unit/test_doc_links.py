"""The README and docs/ link only to files that exist and to headings that exist.

Relative links are resolved from the page's own directory; an anchor must match a heading of the
target page as GitHub renders it (lowercased, punctuation dropped, spaces to hyphens, -1, -2 ... for
repeats) or an explicit <a id/name>. Links in code blocks and code spans are not links.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")
INLINE_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def prose_lines(text: str) -> list[str]:
    """The page's lines outside fenced code blocks (fenced lines become empty)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            lines.append("")
        else:
            lines.append("" if fenced else line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's Markdown text."""
    text = CODE_SPAN.sub(lambda m: m.group(2), heading)
    text = INLINE_LINK.sub(lambda m: m.group(1), text)
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@cache
def anchors(page: Path) -> frozenset[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in prose_lines(page.read_text(encoding="utf-8")):
        found.update(HTML_ANCHOR.findall(line))
        match = HEADING.match(line)
        if match:
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def links(page: Path) -> list[tuple[int, str]]:
    out = []
    for number, line in enumerate(prose_lines(page.read_text(encoding="utf-8")), start=1):
        line = CODE_SPAN.sub("", line)
        out.extend((number, target) for target in LINK.findall(line))
    return out


def broken(page: Path, target: str) -> str | None:
    """Why ``target`` (as written on ``page``) does not resolve, or None."""
    if EXTERNAL.match(target):
        return None
    path_part, _, anchor = target.partition("#")
    resolved = (page.parent / path_part).resolve() if path_part else page
    if not resolved.is_relative_to(REPO):
        return "points outside the repository"
    if not resolved.exists():
        return f"{resolved.relative_to(REPO)} does not exist"
    if anchor:
        if resolved.suffix != ".md" or not resolved.is_file():
            return "an anchor on a page that is not Markdown"
        if anchor not in anchors(resolved):
            return f"no heading #{anchor} in {resolved.relative_to(REPO)}"
    return None


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(REPO)) for p in PAGES])
def test_every_relative_link_resolves(page: Path) -> None:
    problems = [f"line {n}: {t}: {why}" for n, t in links(page) if (why := broken(page, t))]
    assert not problems, "\n".join(problems)


def test_readme_links_every_docs_page() -> None:
    linked = {(REPO / t.partition("#")[0]).resolve() for _, t in links(REPO / "README.md") if not EXTERNAL.match(t)}
    missing = [p.relative_to(REPO) for p in PAGES[1:] if p.resolve() not in linked]
    assert not missing, f"README.md does not link to {missing}"


def test_slugs_follow_github() -> None:
    assert slug("Zone files (`type: zonefile`, the embedded default)") == (
        "zone-files-type-zonefile-the-embedded-default"
    )
    assert slug("RBAC in the database, and `siteplane can`") == "rbac-in-the-database-and-siteplane-can"
    assert slug("Where the time and the memory go (measured, N=10,000, zone files)") == (
        "where-the-time-and-the-memory-go-measured-n10000-zone-files"
    )
    assert slug("The shipped roles ([`manifests/rbac/roles.yaml`](../manifests/rbac/roles.yaml))") == (
        "the-shipped-roles-manifestsrbacrolesyaml"
    )


def test_broken_links_are_caught(tmp_path: Path) -> None:
    assert broken(REPO / "README.md", "docs/nowhere.md") == "docs/nowhere.md does not exist"
    assert broken(REPO / "README.md", "#no-such-heading") == "no heading #no-such-heading in README.md"
    assert broken(REPO / "README.md", "https://example.com/x#y") is None
    assert broken(REPO / "README.md", "../outside") == "points outside the repository"
