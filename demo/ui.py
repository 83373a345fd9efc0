"""The page: the tabs composed, each from its own module (its layout, handlers and events), on
one :class:`~demo.page.Page` that names their components; what they share (the session's clip,
its Stop flag, the settings record) is made here. Settings are in config.py."""

from __future__ import annotations

import functools

import gradio as gr

import core

from . import (
    audit_tab,
    explain_tab,
    gallery_tab,
    live_tab,
    models,
    readme_page,
    settings,
    whole_video_tab,
)
from .catalog import load_gallery, load_model_galleries, load_samples
from .config import (
    CACHE_CLEANUP,
    CONCURRENCY,
    GALLERY_DIR,
    MAX_FILE_SIZE_MB,
    MAX_SECONDS,
    MAX_SESSIONS,
    QUEUE_SIZE,
    SAMPLES_DIR,
    STATE_TTL_S,
)
from .models import model_choices
from .page import Page
from .state import Stop
from .whole_video_tab.view import SYNC_JS

CSS = """
#original img, #heatmap img, #contrast img { width: 100%; height: 100%; object-fit: contain; }
#samples .gallery { gap: 4px; }
#samples .gallery-item { padding: 0; font-size: 13px; line-height: 1.3; }
#samples .gallery-item > div { padding: 1px 6px; }
.nav-holder { display: none !important; }  /* the README's page (readme_page.py) needs no navigation bar */
"""


def _intro() -> str:
    """Two lines above the tabs: the samples must stay above the fold at 1366x768."""
    return (
        "# Why did the video model decide that?\n"
        f"Pick a sample clip or upload one (up to {MAX_FILE_SIZE_MB} MB and {MAX_SECONDS:.0f} s) and press "
        "**Explain**: the model names the action and **Grad-CAM** paints where its evidence came from "
        "(red strong, blue none). It shows where the model looked, not that it looked for the right "
        "reason." + (f" More in the [README]({readme_page.link()})." if readme_page.link() else "")
    )


def build_demo() -> gr.Blocks:
    missing = [m for m in model_choices() if not m.available]
    offered = models.offered()
    default = core.DEFAULT_MODEL if core.DEFAULT_MODEL in offered else (offered or [core.DEFAULT_MODEL])[0]
    spec = core.get_spec(default)

    with gr.Blocks(title="videocam: why did the video model decide that?",
                   delete_cache=CACHE_CLEANUP) as demo:
        page = Page(demo)
        page.add({"session": gr.State(None, time_to_live=STATE_TTL_S),
                  "stop": gr.State(Stop(), time_to_live=STATE_TTL_S)})  # one per session: Gradio copies it
        gr.Markdown(_intro(), elem_id="intro")
        tabs = page.add({"tabs": gr.Tabs(elem_id="tabs")})["tabs"]
        with tabs, gr.Tab("Explain", id="explain"):
            shown = explain_tab.layout(page, default, spec, offered, load_samples(SAMPLES_DIR), missing)
        with tabs, gr.Tab("Whole video", id="whole", elem_id="whole-video"):
            whole_video_tab.layout(page)
        with tabs, gr.Tab("Audit", id="audit", elem_id="audit"):
            audit_tab.layout(page)
        with tabs, gr.Tab("Live", id="live", elem_id="live"):
            live_tab.layout(page, spec.categories)
        with tabs, gr.Tab("Gallery", id="gallery"):
            gallery_tab.layout(load_gallery(GALLERY_DIR), load_model_galleries(GALLERY_DIR), core.DEFAULT_MODEL)

        rebuilt = settings.wire(page, shown)  # the page's settings record, from the Explain tab's choices
        stoppable = explain_tab.wire(page, rebuilt, spec)
        whole_video_tab.wire(page, stoppable)  # a moment is explained on the Explain tab, behind its Stop
        stoppable.wire_stop()
        audit_tab.wire(page)
        live_tab.wire(page)
    readme_page.add(demo)  # where "More in the README" links, when the README has no other address
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY)
    _start_sweeper()
    return demo


@functools.cache  # one per process, however many times the page is built
def _start_sweeper() -> None:
    """Gradio's delete_cache removes uploads; our own output folders are swept here."""
    from gradio.utils import get_upload_folder

    from .state import start_sweeper

    start_sweeper(get_upload_folder(), *CACHE_CLEANUP)


def launch_kwargs() -> dict:
    """What launch() needs besides the address: the upload and session limits and the look. No
    allowed_paths: samples and gallery GIFs are copied into Gradio's cache when the page is built,
    and our outputs are written there, so nothing else on disk is served. Gradio keeps a
    session's state for an hour even after its tab closes (and API clients never close), so
    without a cap on sessions memory grows with visitors per hour."""
    return {
        "max_file_size": f"{MAX_FILE_SIZE_MB}mb",
        "state_session_capacity": MAX_SESSIONS,
        "theme": gr.themes.Soft(primary_hue="orange", secondary_hue="blue"),
        "css": CSS,
        "js": SYNC_JS,
    }
