"""The "Audit" tab: a labelled set of clips in, the audit's report on the page and as a download.

A visitor uploads a ``.zip`` of clips with a ``labels.csv`` (``file,label`` rows), or presses the
sample button, which audits the bundled set (``demo/audit_sample``: rendered with a logo planted
in one class's clips) with the shortcut demonstration model, which learnt to use the logo.
The work is :func:`core.audit.audit`, in the request's own folder; the report is shown in a
sandboxed frame (it is one self-contained page) and zipped for download with ``audit.json``.
"""

from __future__ import annotations

import html
import zipfile
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder

import core
from core.audit import audit, read_items

from . import lifetime
from .audit_upload import unpack
from .config import (
    AUDIT_MAX_CLIPS,
    AUDIT_MAX_UNPACKED_MB,
    AUDIT_SAMPLE_DIR,
    AUDIT_SAMPLE_MODEL,
    MAX_FILE_SIZE_MB,
)
from .models import get_explainer
from .page import LIMITS, WORK, user_errors
from .space import audit_cost, gpu
from .state import request_dir

__all__ = ["OUTPUTS", "audit_sample", "audit_upload", "layout", "wire"]

OUTPUTS = ("audit_summary", "audit_report", "audit_files")
_PER_CLASS = 1  # one clip in each of a class's three tables keeps the page's report short


def layout(page) -> None:
    """Lay out the tab inside the current Blocks context and add its components to ``page``."""
    gr.Markdown(
        "**Audit a labelled set of clips.** Every clip is explained for its labelled class; for each "
        "class you get its accuracy, where its evidence lies on average and when, the 2017 post's "
        "three tables, and a test for shortcuts: a region the model looks at in every clip of a class, "
        "off what moves, is pasted into other classes' clips; if their prediction then flips to the "
        "class, the class is flagged (the model uses that region). "
        f"Upload a .zip of up to {AUDIT_MAX_CLIPS} clips ({MAX_FILE_SIZE_MB} MB, {AUDIT_MAX_UNPACKED_MB} MB "
        "unpacked) with a `labels.csv` of `file,label` rows; the labels must be the chosen model's classes. "
        "Uses the *Model* of the Explain tab.")
    with gr.Row():
        with gr.Column(scale=2, min_width=320):
            archive = gr.File(label="Clips and labels.csv (.zip)", file_types=[".zip"], type="filepath",
                              elem_id="audit-zip")
            with gr.Row():
                run = gr.Button("Audit", variant="primary", elem_id="audit-run", scale=3)
                stop = gr.Button("Stop", variant="stop", elem_id="audit-stop", scale=1, min_width=60)
            sample = gr.Button(f"Sample: catch a model cheating ({AUDIT_SAMPLE_MODEL})", elem_id="audit-sample")
            files = gr.File(label="Downloads", file_count="multiple", interactive=False, elem_id="audit-files")
        with gr.Column(scale=3, min_width=420):
            summary = gr.Markdown(elem_id="audit-summary")
    report = gr.HTML(elem_id="audit-report")
    page.add({"audit_zip": archive, "audit_run": run, "audit_stop": stop, "audit_sample_btn": sample,
              "audit_summary": summary, "audit_report": report, "audit_files": files})


def wire(page) -> None:
    """The tab's events: either button audits; its Stop ends the audit at its next clip."""
    shown = {"show_progress_on": page["audit_summary"], **WORK}
    audited = [page.on(page["audit_run"].click, audit_upload, OUTPUTS, api_name="audit", **shown),
               page.on(page["audit_sample_btn"].click, audit_sample, OUTPUTS, api_name="audit_sample", **shown)]
    page["audit_stop"].click(None, None, None, cancels=audited, queue=False)


def _pct(v) -> str:
    return "–" if v is None else f"{v:.0%}"


def _summary(doc: dict) -> str:
    flagged = doc["flagged"]
    lines = [f"**{doc['model']}** on {doc['videos']} clips ({len(doc['errors'])} unreadable), explained "
             f"with {doc['method']}{' at ' + doc['layer'] if doc['layer'] else ''}."]
    if flagged:
        for label in flagged:
            s = doc["classes"][label]["shortcut"]
            r = s["removal"]
            x0, y0, x1, y1 = s["region"]["box"]
            lines.append(f"- **Flagged: {label}.** Its evidence sits in the box x {x0:.2f}-{x1:.2f}, "
                         f"y {y0:.2f}-{y1:.2f} of the frame in most of its clips, where nothing moves. "
                         f"Covering that box loses the class in {_pct(r['drop_rate'])} of its clips (another "
                         f"corner: {_pct(r['control_drop_rate'])}); pasting it into {s['n']} clips of other classes "
                         f"turns {_pct(s['flip_rate'])} of them into {label} (from third classes: "
                         f"{_pct(s['control_rate'])}).")
    else:
        lines.append("- No class flagged: no class's evidence sits in one fixed place that the model needs "
                     "for the class, or that turns other classes' clips into it.")
    worst = sorted(doc["classes"].items(), key=lambda kv: kv[1]["top1"])[:3]
    lines.append("- Lowest accuracy: " + "; ".join(f"{k} {v['top1']:.0%}" for k, v in worst) + "." if worst
                 else "- No clip could be read, so there is no accuracy to report; the report lists why each failed.")
    t = doc["timings"]
    lines.append(f"- {t['total_s']:.0f} s: decoding {t['decode_s']:.0f} s, explaining {t['explain_s']:.0f} s, "
                 f"shortcut tests {t['causal_forward_passes']} forward passes.")
    return "\n".join(lines)


def _outputs(out: Path, doc: dict) -> dict:
    bundle = out.parent / "audit_report.zip"  # the report, audit.json and the GIFs (not the records)
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in [out / "report.html", out / "audit.json", *sorted((out / "clips").iterdir())]:
            zf.write(path, path.relative_to(out).as_posix())
    page = (out / "report.html").read_text(encoding="utf-8")
    frame = (f'<iframe title="audit report" sandbox="" srcdoc="{html.escape(page, quote=True)}" '
             'style="width:100%;height:900px;border:1px solid #ccd;border-radius:6px"></iframe>')
    return {"audit_summary": _summary(doc), "audit_report": frame,
            "audit_files": [str(bundle), str(out / "report.html"), str(out / "audit.json")]}


@gpu(seconds=audit_cost)  # the model work in ZeroGPU's worker on a ZeroGPU Space (demo/space.py)
def _run(explainer, items, job: Path, data: str, progress, **where) -> dict:
    def step(done: int, total: int) -> None:
        lifetime.check()  # Stop, a cancel or a closed tab ends the audit before its next clip
        progress(done / max(total, 1), desc=f"Explained {done} of {total} clips")

    progress(0.0, desc=f"Auditing {len(items)} clips")
    doc = audit(explainer, items, job / "audit", data=data, per_class=_PER_CLASS, progress=step, limits=LIMITS,
                **where)
    return _outputs(job / "audit", doc)


@user_errors
def audit_upload(audit_zip, model, progress=gr.Progress()):  # noqa: B008 (how Gradio asks for a progress bar)
    if not audit_zip:
        raise gr.Error("Upload a .zip of clips with a labels.csv first, or press the sample button.",
                       print_exception=False)
    explainer = get_explainer(model)
    job = request_dir(get_upload_folder())
    folder, labels = unpack(audit_zip, job / "upload")
    # messages name labels.csv as the archive does, never the server's path or a CLI flag
    items = read_items(folder, explainer.spec.categories, labels=labels,
                       shown_as=labels.relative_to(job / "upload").as_posix())
    if len(items) > AUDIT_MAX_CLIPS:  # rows, not files, are what the audit runs
        raise core.UserError(f"labels.csv lists {len(items)} clips; the limit here is {AUDIT_MAX_CLIPS}")
    return _run(explainer, items, job, Path(audit_zip).name, progress, labels=labels.relative_to(job))


@user_errors
def audit_sample(progress=gr.Progress()):  # noqa: B008 (how Gradio asks for a progress bar)
    if not (AUDIT_SAMPLE_DIR / "test.json").is_file():
        raise core.UserError(f"the sample set is not on this machine ({AUDIT_SAMPLE_DIR}); see the README")
    explainer = get_explainer(AUDIT_SAMPLE_MODEL)
    items = read_items(AUDIT_SAMPLE_DIR, explainer.spec.categories, split="test")
    return _run(explainer, items, request_dir(get_upload_folder()), "the bundled sample set", progress, split="test")
