"""Relay-style cursors and page-size rules shared by every connection."""

from __future__ import annotations

import base64
from typing import Annotated

import strawberry

from schema.errors import UserInputError

# The two arguments of every offset-paged field, described once.
PageSize = Annotated[
    int | None, strawberry.argument(description="Page size (default 50, at most 500).")
]
PageCursor = Annotated[
    str | None, strawberry.argument(description="Cursor of the item before this page.")
]

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50


def encode_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def decode_cursor(cursor: str, argument: str = "after") -> int:
    try:
        kind, _, number = base64.b64decode(cursor.encode(), validate=True).decode().partition(":")
        offset = int(number)
    except (ValueError, UnicodeDecodeError):
        raise UserInputError(f"{argument}: {cursor!r} is not a cursor this API issued") from None
    if kind != "offset" or offset < 0:
        raise UserInputError(f"{argument}: {cursor!r} is not a cursor this API issued")
    return offset


def page_window(first: int | None, after: str | None) -> tuple[int, int]:
    """(skip, first) for a page request, with clear errors for bad values."""
    size = DEFAULT_PAGE_SIZE if first is None else first
    if size < 0:
        raise UserInputError(f"first: must be 0 or more, not {size}")
    if size > MAX_PAGE_SIZE:
        raise UserInputError(f"first: at most {MAX_PAGE_SIZE} per page, not {size}")
    skip = decode_cursor(after) + 1 if after is not None else 0
    return skip, size


@strawberry.type(description="Relay page information.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(description="Items come before this page.")
    start_cursor: str | None = strawberry.field(
        description="Cursor of this page's first item (null on an empty page)."
    )
    end_cursor: str | None = strawberry.field(
        description="Cursor of this page's last item: pass it as `after` for the next page."
    )


def page_info(skip: int, count: int, total: int) -> PageInfo:
    return PageInfo(
        has_next_page=skip + count < total,
        has_previous_page=skip > 0,
        start_cursor=encode_cursor(skip) if count else None,
        end_cursor=encode_cursor(skip + count - 1) if count else None,
    )
