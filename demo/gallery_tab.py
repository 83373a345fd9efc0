"""The "Gallery" tab: the 2017 post's three tables (positive / medium / negative) on held-out
clips, each row the combined original | heatmap GIF with the true label and top-2 predictions."""

from __future__ import annotations

import gradio as gr

from .catalog import TABLES, GalleryItem

_TITLES = {
    "positive": "Right, and confident",
    "medium": "Close: the true class is in the top 2",
    "negative": "Wrong",
}


def _label_md(n: int, item: GalleryItem) -> str:
    preds = "<br>".join(f"{i}. {lab} — {s:.2f}" for i, (lab, s) in enumerate(item.top2, 1))
    return f"**#{n}**<br><br>**True**<br>{item.true}<br><br>**Predictions**<br>{preds}"


def layout(tables: dict[str, list[GalleryItem]], others: dict[str, dict[str, list[GalleryItem]]] | None = None,
                default_model: str = "") -> None:
    """Lay out the tab inside the current Blocks context: the default model's tables, then each
    other shipped model's (``others``, by name) in its own accordion."""
    if not any(tables.values()) and not others:
        gr.Markdown("The gallery has not been generated on this machine yet: it appears here once "
                    "`demo/gallery/gallery.json` and its GIFs exist (see the README).")
        return
    gr.Markdown("Held-out clips explained for their top-1 class, as in the 2017 post: the original "
                "clip and its heatmap side by side, the true label and the top-2 predictions"
                + (f" (`{default_model}`, the default model; the other shipped models below)." if others else "."))
    _tables(tables)
    for name, its in (others or {}).items():
        with gr.Accordion(f"{name}: the same tables, with its default method", open=False):
            _tables(its)


def _tables(tables: dict[str, list[GalleryItem]]) -> None:
    for table in TABLES:
        if not tables[table]:
            continue
        gr.Markdown(f"### {table.capitalize()}: {_TITLES[table]}")
        for i, item in enumerate(tables[table], 1):
            with gr.Row(equal_height=True):
                gr.Image(str(item.gif), show_label=False, interactive=False, scale=3,
                         buttons=["download", "fullscreen"])
                gr.Markdown(_label_md(i, item), scale=2)
