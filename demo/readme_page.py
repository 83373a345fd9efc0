"""The README as a page of the app (``/readme``), where "More in the README" links when the README
has no address of its own: on a Hugging Face Space the link goes to the Space's README instead
(config.README_URL)."""

from __future__ import annotations

import re
from pathlib import Path

import gradio as gr

from .config import README_URL, ROOT

__all__ = ["ROUTE", "add", "link"]

ROUTE = "readme"


def _file() -> Path | None:
    path = ROOT / "README.md"
    return path if path.is_file() else None  # an installed package may ship without it


def link() -> str | None:
    """Where the page's "README" points: the Space's README, this app's /readme, or nowhere."""
    return README_URL or (ROUTE if _file() else None)


def markdown() -> str:
    """README.md for the page: its pictures and links into the repository, which the app does
    not serve, become text (a picture its caption, a link its path)."""
    text = _file().read_text(encoding="utf-8")
    text = re.sub(r"!\[([^\]]*)\]\((?!https?:)[^)]*\)", r"*(\1)*", text)
    return re.sub(r"(?<!!)\[([^\]]+)\]\((?!https?:|#)([^)]*)\)", r"\1 (`\2`)", text)


def add(demo: gr.Blocks) -> None:
    """Add the page to ``demo`` when the page links to it (see :func:`link`)."""
    if link() == ROUTE:
        with demo.route("README", f"/{ROUTE}", show_in_navbar=False):
            gr.Markdown(f"[Back to the app](./)\n\n{markdown()}")
