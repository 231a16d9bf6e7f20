"""Pure functions from Wikipedia revision and compare payloads to edit items."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.base import Author, Item, ItemKind, PermanentError, SourceWarning, parse_utc_time
from connectors.wikipedia.config import MISSING_ARTICLE_FIX
from connectors.wikipedia.diff import diff_section


@dataclass(frozen=True)
class EditContext:
    """What every edit item of one poll shares."""

    page_title: str
    index_url: str
    large_removal_bytes: int


def query_page(body: Mapping[str, Any], title: str) -> dict[str, Any]:
    """The one page of a query answer; PermanentError when the article does not exist."""
    pages = body.get("query", {}).get("pages") if isinstance(body.get("query"), dict) else None
    page = pages[0] if isinstance(pages, list) and pages and isinstance(pages[0], dict) else None
    if page is None:
        raise PermanentError(f"Wikipedia answered without the page {title!r}", fix="check api_url")
    if page.get("missing") or page.get("invalid"):
        reason = " ".join(str(page.get("invalidreason") or "").split())
        raise PermanentError(
            f"Wikipedia has no article with that title: {title!r}"
            + (f" ({reason})" if reason else ""),
            fix=MISSING_ARTICLE_FIX,
        )
    return page


def page_revisions(page: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The page's revision rows that carry a revision id."""
    rows = page.get("revisions")
    rows = rows if isinstance(rows, list) else []
    return [r for r in rows if isinstance(r, dict) and has_ints(r, "revid")]


def continue_params(body: Mapping[str, Any]) -> dict[str, str]:
    """The `continue` values to send with the next request; empty when done."""
    follow = body.get("continue")
    return {str(k): str(v) for k, v in follow.items()} if isinstance(follow, dict) else {}


def redirect_warnings(body: Mapping[str, Any]) -> Iterable[SourceWarning]:
    """One warning per redirect the query followed (the article was moved or merged)."""
    query = body.get("query")
    redirects = query.get("redirects") if isinstance(query, dict) else None
    for hop in redirects if isinstance(redirects, list) else []:
        old, new = hop.get("from"), hop.get("to")
        yield SourceWarning(
            key=f"wikipedia-redirect:{old}->{new}",
            message=f"the Wikipedia article {old!r} now redirects to {new!r}: watching {new!r}",
            fix=f"set title = {new!r} for this source",
        )


def parse_edit(
    revision: Mapping[str, Any],
    compare: Mapping[str, Any] | None,
    *,
    context: EditContext,
    parent_size: int | None,
) -> Item:
    """One revision (and its compare answer) as an edit item."""
    revid, parentid = revision["revid"], int(revision.get("parentid") or 0)
    size = revision.get("size")
    change = size - parent_size if isinstance(size, int) and parent_size is not None else None
    flags = worth_a_look(revision, change, context.large_removal_bytes)
    details = {k: v for k, v in (compare or {}).get("compare", {}).items() if k != "body"}
    userid = revision.get("userid")
    user = revision.get("user") if not revision.get("userhidden") else None
    return Item(
        external_id=str(revid),
        kind=ItemKind.EDIT,
        text=edit_text(revision, compare, change, flags),
        created_at=parse_utc_time(revision.get("timestamp")),
        url=edit_url(context.index_url, revid, parentid),
        author=Author(
            id=str(userid) if isinstance(userid, int) and userid > 0 else None,
            handle=user,
            display_name=user,
        ),
        title=context.page_title,
        thread_id=context.page_title,
        deleted=text_hidden(revision),
        raw={
            "revision": dict(revision),
            "compare": details or None,
            "diff_error": (compare or {}).get("error"),
            "size_change": change,
            "worth_a_look": flags,
        },
    )


def worth_a_look(revision: Mapping[str, Any], change: int | None, threshold: int) -> list[str]:
    """Why staff should look: "large_removal" and/or "unregistered"."""
    flags = []
    if change is not None and change <= -threshold:
        flags.append("large_removal")
    if is_unregistered(revision):
        flags.append("unregistered")
    return flags


def is_unregistered(revision: Mapping[str, Any]) -> bool:
    """An IP editor or a temporary account (a hidden user is not known to be either)."""
    if revision.get("userhidden"):
        return False
    userid = revision.get("userid")
    return bool(revision.get("anon") or revision.get("temp")) or not userid


def text_hidden(revision: Mapping[str, Any]) -> bool:
    """True when Wikipedia has hidden the revision's text (revision deletion)."""
    return bool(revision.get("texthidden") or revision.get("sha1hidden"))


def parent_size(
    revision: Mapping[str, Any], compare: Mapping[str, Any] | None, sizes: Mapping[int, int]
) -> int | None:
    """The size of the revision before this one: from the diff, the list, or 0 for a new page."""
    from_size = (compare or {}).get("compare", {}).get("fromsize")
    if isinstance(from_size, int):
        return from_size
    parentid = revision.get("parentid")
    return 0 if not parentid else sizes.get(parentid)


def edit_text(
    revision: Mapping[str, Any],
    compare: Mapping[str, Any] | None,
    change: int | None,
    flags: list[str],
) -> str:
    """Flags first ("[large removal: -5,320 bytes]"), then summary, tags and the diff."""
    lines = []
    if "large_removal" in flags:
        lines.append(f"[large removal: {change:,} bytes]")
    if "unregistered" in flags:
        kind = " (temporary account)" if revision.get("temp") else ""
        lines.append(f"[edit by an unregistered user{kind}]")
    if revision.get("userhidden"):
        lines.append("[the editor's username is hidden]")
    if text_hidden(revision):
        by = (
            "Wikipedia's oversighters" if revision.get("suppressed") else "Wikipedia administrators"
        )
        lines.append(f"[content hidden: {by} removed this revision's text from public view]")
    summary = "(hidden)" if revision.get("commenthidden") else revision.get("comment") or "(none)"
    lines.append(f"Edit summary: {summary}")
    tags = revision.get("tags")
    if isinstance(tags, list) and tags:
        lines.append("Tags: " + ", ".join(str(tag) for tag in tags))
    if compare is not None:
        lines.append(diff_section(compare))
    return "\n".join(lines)


def edit_url(index: str, revid: int, parentid: int) -> str:
    """The diff page of an edit (the revision itself for a page creation)."""
    return f"{index}?diff={revid}&oldid={parentid}" if parentid else f"{index}?oldid={revid}"


def has_ints(row: Mapping[str, Any], *keys: str) -> bool:
    """Whether each of `keys` holds an int (a bool does not count)."""
    return all(isinstance(row.get(k), int) and not isinstance(row.get(k), bool) for k in keys)
