"""How a count is written, in one place: CLI, notebook HTML, web view and logs write ``198,032``
(the web view's live updates write the same with ``toLocaleString("en-US")``)."""

from __future__ import annotations

__all__ = ["count"]


def count(n: int | None) -> str:
    """``198032`` → ``"198,032"``; ``None`` (not known) → ``"–"``."""
    return "–" if n is None else f"{n:,}"
