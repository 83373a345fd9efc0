"""The app's settings in one place: limits stated on the page, where samples and outputs live."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Sample clips (demo/samples/index.json: [{"file": "x.mp4", "label": "true label"}]) and the
# post-style gallery (demo/gallery/gallery.json). The env vars point tests at temporary copies.
SAMPLES_DIR = Path(os.environ.get("VIDEOCAM_SAMPLES") or ROOT / "demo" / "samples")
GALLERY_DIR = Path(os.environ.get("VIDEOCAM_GALLERY") or ROOT / "demo" / "gallery")

MAX_FILE_SIZE_MB = 50  # uploads past this are refused by Gradio before they reach us
MAX_SECONDS = 60.0  # longer clips are refused with a message
DECODE_SECONDS = 4.0  # wall-clock budget for reading one upload (the engine's default is 10 s)
VIDEO_TYPES = ("MP4", "WebM", "MOV", "AVI", "MKV", "GIF")
# The "Whole video" tab (a class timeline) takes longer videos, within the same file size, and
# may spend this much wall-clock time decoding per minute of video (a 10-minute video: 5 min).
TIMELINE_MAX_SECONDS = 600.0
TIMELINE_SECONDS_PER_MINUTE = 30.0

# Models. The page offers the shipped model, every registered model whose weights are on this
# machine, and those named in VIDEOCAM_MODELS: comma-separated Hugging Face Hub ids or
# save_pretrained folders (a choice's value is the text exactly as given). A Hub id that is not
# cached is downloaded when someone picks or loads it where downloads are allowed: by default on
# your own machine, not on a public Hugging Face Space (SPACE_ID is set there); set
# VIDEOCAM_ALLOW_DOWNLOADS=1 to allow them on a Space, =0 to forbid them anywhere. Loaded models
# are shared by all visitors; at most MAX_MODELS are held at once, and loading one more drops the
# least recently used (it loads again, from disk, when it is picked next).
EXTRA_MODELS = tuple(m.strip() for m in os.environ.get("VIDEOCAM_MODELS", "").split(",") if m.strip())


def allow_downloads(env=os.environ) -> bool:
    """VIDEOCAM_ALLOW_DOWNLOADS when it is set (1/true/yes or 0/false/no), else: on for an app that
    only this machine can reach (not a Space, served on loopback, the default), off for one the
    public can (a Space, or GRADIO_SERVER_NAME=0.0.0.0), where every visitor could fill its disk."""
    given = env.get("VIDEOCAM_ALLOW_DOWNLOADS", "").strip().lower()
    if given:
        return given in ("1", "true", "yes")
    host = env.get("GRADIO_SERVER_NAME", "127.0.0.1").strip().lower()
    return not env.get("SPACE_ID") and host in ("127.0.0.1", "localhost", "::1", "")


ALLOW_DOWNLOADS = allow_downloads()
MAX_MODELS = max(1, int(os.environ.get("VIDEOCAM_MAX_MODELS") or 3))
# What the page suggests for real footage instead of the demonstration model.
REAL_MODEL = "MCG-NJU/videomae-base-finetuned-kinetics"
REAL_MODEL_ABOUT = "VideoMAE-base, Kinetics-400: 400 everyday actions; 86.5M parameters, 346 MB"

# The Audit tab: a .zip of clips and a labels.csv (file,label rows), within the page's upload
# limit above; unpacked, at most AUDIT_MAX_UNPACKED_MB. The sample button audits the bundled
# set (demo/audit_sample, rendered with a planted shortcut) with the shortcut demonstration model.
AUDIT_MAX_CLIPS = 200
AUDIT_MAX_UNPACKED_MB = 400
AUDIT_MAX_LABELS_KB = 256  # labels.csv: 200 rows of file,label need a few KB
AUDIT_SAMPLE_DIR = Path(os.environ.get("VIDEOCAM_AUDIT_SAMPLE") or ROOT / "demo" / "audit_sample")
AUDIT_SAMPLE_MODEL = "i3d_tiny14_shortcut"

# The Live tab: the browser sends a webcam frame every LIVE_STREAM_EVERY seconds; at most
# LIVE_MAX_STREAMS visitors stream at once (each holds one clip of small frames and a worker
# thread), each for at most LIVE_TIME_LIMIT_S seconds; a stream whose frames stop for LIVE_IDLE_S
# is closed and its buffers freed. Frames are shrunk to LIVE_MAX_SIDE pixels on their longer side.
LIVE_STREAM_EVERY = 0.1
LIVE_MAX_STREAMS = max(1, int(os.environ.get("VIDEOCAM_LIVE_STREAMS") or 2))
LIVE_TIME_LIMIT_S = 300
LIVE_IDLE_S = 3.0
LIVE_MAX_SIDE = 640
LIVE_MAX_PIXELS = 3840 * 2160  # a frame past 4K is refused from its header, before decoding

# What one page or API request may cost (issue 37). Occlusion and RISE are refused before they
# run when they would need more than REQUEST_MAX_PASSES forward passes, or more than
# REQUEST_MAX_SECONDS of them at the model's measured speed (the cost line under Explain shows
# both). Any request is stopped after REQUEST_TIME_LIMIT_S, and as soon as it is cancelled or its
# page or client goes away (demo/lifetime.py). The CLI and the library have no such caps.
REQUEST_MAX_PASSES = 10_000
REQUEST_MAX_SECONDS = 300.0
REQUEST_TIME_LIMIT_S = 900.0

OPACITY = 0.5  # the heatmap's opacity until the user moves the slider
GIF_MAX_SIDE = 320  # longest side of each GIF panel, in pixels
GIF_FPS = 4.0  # playback speed of the GIFs and MP4 (the 2017 post sampled at 4 fps)
TOP_K = 5  # the "top-5 at a glance" gallery
CONCURRENCY = 2  # model work at once (the Explainer serialises forward passes anyway)
QUEUE_SIZE = 32
STATE_TTL_S = 3600  # a session's clip is dropped an hour after its last use
MAX_SESSIONS = 32  # sessions whose clip is held at once (~9 MB each for a 640x272 clip): caps RSS
CACHE_CLEANUP = (600, 3600)  # every 10 min, delete outputs older than an hour

# Where "README" on the page points. On a Hugging Face Space (SPACE_ID is set there) it is the
# Space's README; elsewhere VIDEOCAM_README_URL, or no link.
_space = os.environ.get("SPACE_ID")
README_URL = os.environ.get("VIDEOCAM_README_URL") or (
    f"https://huggingface.co/spaces/{_space}/blob/main/README.md" if _space else None
)
# where the repository's files are, beside the README (the measured tables under docs/ are linked there)
DOCS_BASE = README_URL.rsplit("/", 1)[0] if README_URL else None
