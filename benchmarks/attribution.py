"""Attribution methods (core.attribution) against the model's own no-grad forward pass, and our
occlusion against captum's ``Occlusion``, side by side in one process.

Rows per model (medians over interleaved rounds):

- ``forward``: one no-grad forward pass of the (1, C, T, H, W) model input (SDPA attention);
- ``rollout`` / ``relevance``: one clip, one class (eager attention, switched on for the call);
- ``attnlrp``: one clip, one class, the method alone (one forward pass with a graph, one backward
  pass); ``explain``: ``Explainer.explain(x, 0, method="attnlrp")``, the call a user makes
  (attnlrp's forward pass also predicts the classes; the result cache emptied each time);
- ``fwd_tput``: no-grad forward throughput (clips/s) at the best batch size of ``--batches``;
- ``occlusion_tput`` / ``rise_tput``: forward passes per second of our occlusion / RISE at that
  batch size (mask making and blending included);
- ``occlusion`` vs ``captum``: seconds for the same windows, captum at its best
  ``perturbations_per_eval`` of ``--batches``.

Tiny fixtures by default; ``--base`` adds VideoMAE-base and TimeSformer-base sizes with random
weights (attention rows only: their perturbation rows would take hours on a CPU). ``peak RSS``:
RISE run in a fresh process with N and 8N masks (memory must not grow with N). ``--update FILE``
writes the section of docs/benchmarks.md, with the targets of issue 23::

    python -m benchmarks.attribution --rounds 3
    python -m benchmarks.attribution --base --rounds 2 --update docs/benchmarks.md
    python -m benchmarks.attribution --attention-only --rounds 15 --update docs/benchmarks.md

``--product-call``: rollout and relevance as a user calls them (issue 39): a fresh Explainer on
uint8 frames against preprocessing and a no-grad forward pass, and another class of the same clip
(``python -m benchmarks.attribution --product-call --rounds 15 --update docs/benchmarks.md``).

``--attention-only``: the attention rows alone (the tiny fixtures and ``videomae_tiny``, the shipped
architecture with random weights), one intra-op thread, timed in CPU seconds of that thread,
written to their own section, with AttnLRP's target.

Length: one benchmark's tables (the methods alone, the product call, the perturbation estimates),
which share its interleaved, CPU-timed rounds.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

import core
from core.attribution import (
    Perturbation,
    attnlrp,
    forward_passes,
    occlusion,
    relevance,
    rise,
    rollout,
)
from core.cam import Explainer, Target

from . import interleaved, median_ms, parse_section_args, publish, verdict

TINY = {"hidden_size": 96, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 192,
        "num_frames": 8, "image_size": 64, "num_labels": 10}


def _tiny(family: str):
    import transformers

    folder = Path(tempfile.gettempdir()) / "videocam-benchmark-configs" / f"{family}-tiny"
    if not (folder / "config.json").is_file():
        config = {"videomae": lambda: transformers.VideoMAEConfig(patch_size=16, tubelet_size=2, **TINY),
                  "timesformer": lambda: transformers.TimesformerConfig(patch_size=16, **TINY),
                  "vivit": lambda: transformers.VivitConfig(tubelet_size=[2, 16, 16], **TINY)}[family]()
        config.save_pretrained(folder)
    return core.load_model(str(folder), weights=None, download=False)


def _base(name: str):
    from .explain import load_model

    return load_model(name)[0]


def _input(model) -> torch.Tensor:
    spec = model.spec
    torch.manual_seed(0)
    return torch.randn(1, 3, spec.num_frames, *spec.input_size)


def _interleaved_cpu(ops: dict, rounds: int) -> dict[str, list[float]]:
    """:func:`benchmarks.interleaved` timed in CPU seconds of this thread (``time.thread_time``):
    with one intra-op thread all the work is this thread's, and a machine shared with other jobs
    stretches wall time, not CPU time."""
    for fn in ops.values():
        fn()
    samples: dict[str, list[float]] = {k: [] for k in ops}
    for _ in range(rounds):
        for k, fn in ops.items():
            t0 = time.thread_time()
            fn()
            samples[k].append(time.thread_time() - t0)
    return samples


def attention_rows(name: str, model, rounds: int, *, cpu_time: bool = False) -> dict[str, float]:
    explainer, x, target = Explainer(model), _input(model), [Target(0, "class 0")]

    def forward():
        with torch.no_grad():
            model(x)

    def explain():
        explainer.clear()  # the call as a user's first one: no kept result, no kept forward pass
        explainer.explain(x, 0, method="attnlrp")

    ops = {"forward": forward, "rollout": lambda: rollout(explainer, x, target),
           "relevance": lambda: relevance(explainer, x, target), "attnlrp": lambda: attnlrp(explainer, x, target),
           "explain": explain}
    ms = {k: median_ms(v) for k, v in (_interleaved_cpu if cpu_time else interleaved)(ops, rounds).items()}
    print(f"{name:18s} forward {ms['forward']:9.1f} ms  " + "  ".join(
        f"{k} {ms[k]:9.1f} ms ({ms[k] / ms['forward']:.2f}x)" for k in ops if k != "forward"), flush=True)
    return ms


def product_rows(name: str, model, rounds: int) -> dict[str, float]:
    """The call a user makes (issue 39), in CPU seconds of one thread: ``Explainer(model).explain(
    frames, method=...)`` on uint8 frames (a fresh Explainer, preprocessing included), against
    preprocessing and one no-grad forward pass; ``another``: another class of the same clip on the
    kept Explainer (its kept result emptied each time, so the method runs: rollout reuses its map,
    relevance runs its backward pass); ``alone``: the method alone on the model input, as
    :func:`attention_rows` times it."""
    from core.transforms import preprocess

    spec = model.spec
    torch.manual_seed(0)
    h, w = (round(s * 1.25) for s in spec.input_size)  # a clip larger than the input: resized and cropped
    frames = torch.randint(0, 256, (spec.num_frames, h, w, 3), dtype=torch.uint8)
    x, target = preprocess(frames, spec)[0], [Target(0, "class 0")]
    kept = {m: Explainer(model) for m in ("rollout", "relevance")}
    for method, explainer in kept.items():
        explainer.explain(frames, 0, method=method)

    def baseline():
        with torch.no_grad():
            model(preprocess(frames, spec)[0])

    def another(method):
        def run():
            kept[method]._attributed.clear()  # the method runs for the class, not a kept result
            kept[method].explain(frames, 1, method=method)
        return run

    alone = Explainer(model)
    ops = {"baseline": baseline,
           "rollout": lambda: Explainer(model).explain(frames, method="rollout"),
           "relevance": lambda: Explainer(model).explain(frames, method="relevance"),
           "rollout_another": another("rollout"), "relevance_another": another("relevance"),
           "rollout_alone": lambda: rollout(alone, x, target), "relevance_alone": lambda: relevance(alone, x, target)}
    ms = {k: median_ms(v) for k, v in _interleaved_cpu(ops, rounds).items()}
    print(f"{name:18s} preprocess+forward {ms['baseline']:8.1f} ms  " + "  ".join(
        f"{k} {ms[k]:8.1f} ms ({ms[k] / ms['baseline']:.2f}x)" for k in ops if k != "baseline"), flush=True)
    return ms


PRODUCT_TARGETS = {"rollout": 1.3, "relevance": 2.5, "rollout_another": 0.1, "relevance_another": 1.5}
_CALL_BEGIN, _CALL_END = "<!-- attention-call:begin -->", "<!-- attention-call:end -->"


def product_markdown(rows: dict, command: str) -> str:
    t = PRODUCT_TARGETS
    lines = [_CALL_BEGIN, "## Rollout and relevance: the call a user makes (issue 39)", "",
             f"`{command}`: medians over interleaved rounds in one process, random weights, one intra-op thread, "
             "timed in CPU seconds of that thread (the machine is shared with a training run and other jobs: load "
             f"average {os.getloadavg()[0]:.2f} at the end; CPU time is what the work costs, not what the other "
             "jobs add). *baseline*: preprocessing uint8 frames (a clip 1.25x the input size: resized and cropped) "
             "and one no-grad forward pass. *explain*: `Explainer(model).explain(frames, method=...)`, a fresh "
             "Explainer, preprocessing included: one forward pass gives the classes and the attention "
             "(`core.attribution.CLASSIFYING`). *another class*: class 1 of the same clip on the kept Explainer "
             "(its kept result emptied, so the method runs): no forward pass; rollout's map is reused, relevance "
             "runs its backward pass only. *alone*: the method alone on the model input, the former figure.", "",
             "| model | baseline | rollout | / baseline | limit | | another class | / baseline | limit | | alone | "
             "relevance | / baseline | limit | | another class | / baseline | limit | | alone |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | "
             "--- | --- | --- |"]
    for name, ms in rows.items():
        b = ms["baseline"]
        cells = [name, f"{b:.1f} ms"]
        for m in ("rollout", "relevance"):
            r, a = ms[m] / b, ms[f"{m}_another"] / b
            cells += [f"{ms[m]:.1f} ms", f"{r:.2f}x", f"<= {t[m]}x", verdict(r <= t[m]),
                      f"{ms[f'{m}_another']:.1f} ms", f"{a:.2f}x", f"<= {t[f'{m}_another']}x",
                      verdict(a <= t[f"{m}_another"]), f"{ms[f'{m}_alone'] / b:.2f}x"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join([*lines, _CALL_END, ""])


def perturbation_rows(name: str, model, batches: list[int], passes: int, rounds: int = 2,
                      min_seconds: float = 0.0) -> dict[str, float]:
    """Each figure is the best of ``rounds`` interleaved rounds (forward throughput at each batch,
    our occlusion and RISE, captum at each ``perturbations_per_eval``), or of as many more as
    fill ``min_seconds``, after one untimed warm-up of each: a single cold run of a fraction of
    a second measures the allocator, not the method."""
    from captum.attr import Occlusion

    explainer, x, target = Explainer(model), _input(model), [Target(0, "class 0")]
    t, h, w = x.shape[2:]
    window = (max(1, t // 4), h // 8, w // 8)  # 4 x 8 x 8 windows, no overlap

    def probs(z):
        with torch.no_grad():
            return model(z).softmax(-1)

    def forward(b):
        xb = x.expand(b, *x.shape[1:]).contiguous()
        return lambda: [explainer.predict(xb, batch_size=b) for _ in range(max(1, passes // b))]

    def captum_at(b):
        return lambda: Occlusion(probs).attribute(
            x, sliding_window_shapes=(3, *window), strides=(1, *window), target=0,
            baselines=x.mean((2, 3, 4), keepdim=True).expand_as(x), perturbations_per_eval=b)

    fwd = {b: forward(b) for b in batches}
    best_of = {f"forward@{b}": [] for b in batches} | {f"captum@{b}": [] for b in batches}
    for f in fwd.values():
        f()
    for _ in range(rounds):
        for b, f in fwd.items():
            t0 = time.perf_counter()
            f()
            best_of[f"forward@{b}"].append(time.perf_counter() - t0)
    tput = {b: max(1, passes // b) * b / min(best_of[f"forward@{b}"]) for b in batches}
    best = max(tput, key=tput.get)
    occ = Perturbation(window=window, batch_size=best, baseline="mean")
    n_occ = forward_passes("occlusion", occ, x.shape)
    rp = Perturbation(masks=passes, window=window, batch_size=best, baseline="mean")
    ops = {"occlusion": lambda: occlusion(explainer, x, target, occ),
           "rise": lambda: rise(explainer, x, target, rp), "forward": fwd[best]} | {
               f"captum@{b}": captum_at(b) for b in batches}
    samples = interleaved(ops, rounds, min_seconds=min_seconds)
    rounds = len(samples["forward"])
    t_occ, t_rise = min(samples["occlusion"]), min(samples["rise"])
    tput[best] = max(tput[best], max(1, passes // best) * best / min(samples["forward"]))
    captum = {b: min(samples[f"captum@{b}"]) for b in batches}
    cb = min(captum, key=captum.get)
    print(f"{name:18s} forward {tput[best]:7.1f} clips/s at batch {best}; occlusion {n_occ / t_occ:7.1f} "
          f"passes/s ({n_occ / t_occ / tput[best]:.2f}x); rise {passes / t_rise:7.1f} passes/s "
          f"({passes / t_rise / tput[best]:.2f}x); occlusion {t_occ:.2f} s vs captum {captum[cb]:.2f} s "
          f"at perturbations_per_eval={cb} ({t_occ / captum[cb]:.2f}x)", flush=True)
    return {"rounds": rounds, "fwd_tput": tput[best], "batch": best, "occlusion_tput": n_occ / t_occ, "rise_tput": passes / t_rise,
            "occlusion_s": t_occ, "captum_s": captum[cb], "captum_batch": cb, "occlusion_passes": n_occ}


_RSS_SCRIPT = """
import resource, sys, torch
import core
from core.attribution import Perturbation, rise
from core.cam import Explainer, Target
torch.set_num_threads(2)
model = core.load_model(core.DEFAULT_MODEL, weights=None)
x = torch.randn(1, 3, model.spec.num_frames, *model.spec.input_size)
rise(Explainer(model), x, [Target(0, "a")], Perturbation(masks=int(sys.argv[1]), window=(4, 14, 14), batch_size=16))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def rise_peak_rss(masks: int) -> float:
    """Peak RSS (MB) of a fresh process that runs RISE with ``masks`` masks on the default model."""
    import subprocess

    out = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, str(masks)], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    return int(out.stdout.split()[-1]) / 1024


TARGETS = {"rollout": 1.3, "relevance": 3.0, "perturbation_tput": 0.85, "occlusion_vs_captum": 0.8, "rss": 1.1,
           "attnlrp": 2.5}
_BEGIN, _END = "<!-- attribution:begin -->", "<!-- attribution:end -->"
_LRP_BEGIN, _LRP_END = "<!-- attnlrp:begin -->", "<!-- attnlrp:end -->"


def attnlrp_markdown(attention: dict, command: str) -> str:
    """The attention rows with AttnLRP (issue 36): the method alone and the call a user makes,
    against the model's no-grad forward pass."""
    t = TARGETS["attnlrp"]
    lines = [_LRP_BEGIN, "## AttnLRP (issue 36)", "",
             f"`{command}`: medians over interleaved rounds in one process, random weights, one intra-op "
             f"thread, timed in CPU seconds of that thread (the machine is shared: load average "
             f"{os.getloadavg()[0]:.2f} at the end; CPU time is what the work costs, not what the other jobs "
             "add). *attnlrp*: the method alone (one forward pass with a graph, one "
             "backward pass to the patch embeddings); *explain*: `Explainer.explain(x, 0, method=\"attnlrp\")`, "
             "the call a user makes: attnlrp's forward pass, which also predicts the classes, its backward "
             "pass, and the engine's work for every method (preprocessing, the familiarity features, the maps "
             "upsampled to the clip), a fixed cost that weighs most on the 64-token fixtures.", "",
             "| model | forward | rollout | relevance | attnlrp | / forward | explain | / forward | limit | |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, ms in attention.items():
        f = ms["forward"]
        lines.append(f"| {name} | {f:.1f} ms | {ms['rollout'] / f:.2f}x | {ms['relevance'] / f:.2f}x | "
                     f"{ms['attnlrp']:.1f} ms | {ms['attnlrp'] / f:.2f}x | {ms['explain']:.1f} ms | "
                     f"{ms['explain'] / f:.2f}x | <= {t}x | {verdict(ms['explain'] / f <= t)} |")
    return "\n".join([*lines, _LRP_END, ""])


def markdown(attention: dict, perturbation: dict, rss: tuple[int, float, int, float], command: str) -> str:
    t = TARGETS
    lines = [_BEGIN, "## Attention and perturbation methods (issue 23)", "",
             f"`{command}`: medians over interleaved rounds in one process, random weights; 2 CPU cores, load "
             f"average {os.getloadavg()[0]:.2f} at the end. Forward: the model's own no-grad forward pass (SDPA "
             "attention). Rollout switches on attention that returns its weights for the call (SDPA returns "
             "none); relevance on VideoMAE and ViViT keeps fused attention in the forward pass and makes each "
             "layer's gradient-weighted attention in its own backward, a few heads at a time; TimeSformer's "
             "attention is its own code and always makes its weights.",
             "", "| model | forward | rollout | / forward | limit | | relevance | / forward | limit | |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, ms in attention.items():
        r1, r2 = ms["rollout"] / ms["forward"], ms["relevance"] / ms["forward"]
        lines.append(f"| {name} | {ms['forward']:.1f} ms | {ms['rollout']:.1f} ms | {r1:.2f}x | <= {t['rollout']}x | "
                     f"{verdict(r1 <= t['rollout'])} | {ms['relevance']:.1f} ms | {r2:.2f}x | <= {t['relevance']}x | "
                     f"{verdict(r2 <= t['relevance'])} |")
    rounds = sorted({r["rounds"] for r in perturbation.values()})
    rounds = f"{rounds[0]}-{rounds[-1]}" if len(rounds) > 1 else str(rounds[0]) if rounds else "0"
    lines += ["", "Occlusion (windows of a quarter of the frames x an eighth of the height and width, no overlap, "
              "mean baseline) and RISE (as many masks as the throughput row's passes, the same cells) against the "
              "model's no-grad forward throughput at its best batch size; our occlusion against captum's "
              "`Occlusion` on the same windows at its best `perturbations_per_eval`; each figure the best of "
              f"{rounds} interleaved rounds after a warm-up (at least `--perturbation-rounds`, more until a model's "
              "rounds had run `--perturbation-seconds`):", "",
              "| model | forward | occlusion | / forward | rise | / forward | limit | | occlusion | captum | ours / captum | limit | | "
              "floor / captum |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in perturbation.items():
        a, b = r["occlusion_tput"] / r["fwd_tput"], r["rise_tput"] / r["fwd_tput"]
        c = r["occlusion_s"] / r["captum_s"]
        lines.append(f"| {name} | {r['fwd_tput']:.1f} clips/s (batch {r['batch']}) | {r['occlusion_tput']:.1f}/s | "
                     f"{a:.2f}x | {r['rise_tput']:.1f}/s | {b:.2f}x | >= {t['perturbation_tput']}x | "
                     f"{verdict(min(a, b) >= t['perturbation_tput'])} | {r['occlusion_s']:.2f} s "
                     f"({r['occlusion_passes']} passes) | {r['captum_s']:.2f} s (at {r['captum_batch']}) | {c:.2f}x | "
                     f"<= {t['occlusion_vs_captum']}x | {verdict(c <= t['occlusion_vs_captum'])} | "
                     f"{r['occlusion_passes'] / r['fwd_tput'] / r['captum_s']:.2f}x |")
    lines += ["", "*floor / captum*: the time of the same number of forward passes at the model's best no-grad "
              "throughput (the forward column), over captum's time. Both run the same passes, so an occlusion that "
              "runs them through the model as it is (no fewer passes, no cheaper forward pass) takes no less than "
              "the floor: where captum is within 25% of it, <= 0.8x is out of reach."]
    n1, m1, n2, m2 = rss
    lines += ["", f"Peak RSS of a fresh process running RISE on {core.DEFAULT_MODEL} (random weights, batch 16): "
              f"{m1:.0f} MB with {n1} masks, {m2:.0f} MB with {n2} ({m2 / m1:.2f}x; limit <= {t['rss']}x: "
              f"{verdict(m2 / m1 <= t['rss'])}). Masks are made per batch, never all at once.", _END, ""]
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--base", action="store_true", help="add VideoMAE-base and TimeSformer-base sizes")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 4, 16, 32])
    ap.add_argument("--passes", type=int, default=256, help="forward passes per throughput row")
    ap.add_argument("--perturbation-rounds", type=int, default=2,
                    help="the perturbation rows' figures are the best of at least this many rounds, after a warm-up")
    ap.add_argument("--perturbation-seconds", type=float, default=20.0,
                    help="... and of more rounds until a model's rounds have run this long (the tiny rows' rounds "
                         "take a fraction of a second)")
    ap.add_argument("--rss-masks", type=int, default=64, help="RISE's N for the memory row (and 8N)")
    ap.add_argument("--attention-only", action="store_true",
                    help="the attention rows alone (tiny fixtures and videomae_tiny), AttnLRP's section")
    ap.add_argument("--product-call", action="store_true",
                    help="rollout and relevance as a user calls them (tiny fixtures and videomae_tiny), their section")
    args, command = parse_section_args(ap, argv, "benchmarks.attribution")
    torch.manual_seed(0)
    if args.product_call:
        torch.set_num_threads(1)  # timed in CPU seconds of the one thread that works: see _interleaved_cpu
        rows = {f"{f}-tiny": product_rows(f"{f}-tiny", _tiny(f), args.rounds) for f in ("videomae", "timesformer", "vivit")}
        rows["videomae_tiny"] = product_rows("videomae_tiny", core.load_model("videomae_tiny", weights=None), args.rounds)
        text = product_markdown(rows, command)
        publish(text, args.update, _CALL_BEGIN, _CALL_END)
        return
    if args.attention_only:
        torch.set_num_threads(1)  # timed in CPU seconds of the one thread that works: see _interleaved_cpu
        attention = {f"{f}-tiny": attention_rows(f"{f}-tiny", _tiny(f), args.rounds, cpu_time=True)
                     for f in ("videomae", "timesformer", "vivit")}
        attention["videomae_tiny"] = attention_rows("videomae_tiny", core.load_model("videomae_tiny", weights=None),
                                                    args.rounds, cpu_time=True)
        text = attnlrp_markdown(attention, command)
        publish(text, args.update, _LRP_BEGIN, _LRP_END)
        return
    attention, perturbation = {}, {}
    for family in ("videomae", "timesformer", "vivit"):
        model = _tiny(family)
        attention[f"{family}-tiny"] = attention_rows(f"{family}-tiny", model, args.rounds)
        perturbation[f"{family}-tiny"] = perturbation_rows(f"{family}-tiny", model, args.batches, args.passes,
                                                           args.perturbation_rounds, args.perturbation_seconds)
    perturbation[core.DEFAULT_MODEL] = perturbation_rows(
        core.DEFAULT_MODEL, core.load_model(core.DEFAULT_MODEL, weights=None), args.batches, args.passes,
        args.perturbation_rounds, args.perturbation_seconds)
    if args.base:
        for name in ("videomae-base", "timesformer-base"):
            attention[name] = attention_rows(name, _base(name), args.rounds)
    n = args.rss_masks
    rss = (n, rise_peak_rss(n), 8 * n, rise_peak_rss(8 * n))
    text = markdown(attention, perturbation, rss, command)
    publish(text, args.update, _BEGIN, _END)


if __name__ == "__main__":
    main()
