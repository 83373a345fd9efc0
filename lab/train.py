"""Train any registered architecture on a Something-Something-v2-layout dataset.

    python -m lab.train --data data/actions13 --arch i3d_tiny --epochs 12 --out runs/i3d_tiny \
        --export checkpoints/i3d_tiny
    python -m lab.train --data data/actions13 data/varied13 ...   # several data sets, one pool
    torchrun --nproc-per-node 2 -m lab.train ...      # DDP (gloo on CPU, nccl on CUDA)

Clips are decoded once (T frames, squashed to ``--cache-size`` pixels) into an in-memory uint8
cache saved beside the data, then each step augments a batch on the fly: random scale/crop,
horizontal flip *with the label mirrored* ("left" <-> "right"), brightness/contrast jitter.
Checkpoints are safetensors + JSON (model, optimiser state, step), resumable with ``--resume``.

Length: one command: its data cache, its loop, its resumable state and its export change together
whenever the recipe does.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from core.models import get_spec, load_model
from core.models.i3d import I3DResNet
from core.models.weights import load_checkpoint, save_checkpoint
from core.transforms import resize_frames

from .cam_loss import GroundTruthCache, cam_localisation_loss, load_cached_ground_truth
from .data import SSv2Dataset

__all__ = ["flip_label_map", "main"]


def flip_label_map(categories: list[str]) -> list[int]:
    """Index each class maps to under a horizontal flip ("left" and "right" swap)."""
    out = []
    for i, c in enumerate(categories):
        swapped = c.replace("left", "\0").replace("right", "left").replace("\0", "right")
        out.append(categories.index(swapped) if swapped in categories and swapped != c else i)
    return out


def _decode_split(ds: SSv2Dataset, num_frames: int, size: int, desc: str, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    from tqdm import tqdm

    from core.video import read_clip

    from .data.ssv2 import DATASET_LIMITS

    frames = torch.empty(len(ds), num_frames, size, size, 3, dtype=torch.uint8)
    labels = torch.empty(len(ds), dtype=torch.long)
    for i in tqdm(range(len(ds)), desc=f"decode {desc}", disable=rank != 0, leave=False):
        path, label = ds.video_path(i), ds.samples[i].target
        clip = read_clip(path, sampling="uniform", num_frames=num_frames, limits=DATASET_LIMITS)
        frames[i] = resize_frames(clip.frames, (size, size))
        labels[i] = label
    return frames, labels


def load_cached_split(root: Path, split: str, categories: list[str], num_frames: int, size: int, rank: int = 0):
    """(frames (N, T, S, S, 3) uint8, labels (N,)) for a split, decoded once and cached on disk."""
    cache = root / f".cache_{split}_{num_frames}x{size}.npz"
    if cache.is_file():
        z = np.load(cache)
        return torch.from_numpy(z["frames"]), torch.from_numpy(z["labels"])
    ds = SSv2Dataset(root, split, classes=categories)
    frames, labels = _decode_split(ds, num_frames, size, split, rank)
    if rank == 0:
        np.savez(cache, frames=frames.numpy(), labels=labels.numpy())
    return frames, labels


def _augment(frames: torch.Tensor, labels: torch.Tensor, flip_map: torch.Tensor, out_size: int, g: torch.Generator,
             masks: torch.Tensor | None = None, min_scale: float = 0.75):
    """uint8 (B, T, S, S, 3) -> float (B, 3, T, out, out) in [0, 1], augmented; labels mirrored.
    Crops keep ``min_scale`` to 1 of the side.

    With ``masks`` (uint8 (B, T, S, S)), they get the same crop, resize and flip, and come back
    third: float (B, T, out, out) in [0, 1]. The random draws are the same either way.
    """
    B, T, S = frames.shape[:3]
    x = frames.float().div_(255)
    if masks is not None:  # a fourth channel, so the masks follow the frames exactly
        x = torch.cat([x, masks.float().div_(255)[..., None]], -1)
    out = torch.empty(B, T, out_size, out_size, x.shape[-1])
    labels = labels.clone()
    for b in range(B):
        scale = float(torch.empty(1).uniform_(min_scale, 1.0, generator=g))
        ch = max(8, round(S * scale))
        cw = max(8, round(S * min(1.0, scale * float(torch.empty(1).uniform_(0.85, 1.15, generator=g)))))
        top = int(torch.randint(0, S - ch + 1, (1,), generator=g))
        left = int(torch.randint(0, S - cw + 1, (1,), generator=g))
        xb = resize_frames(x[b, :, top:top + ch, left:left + cw], (out_size, out_size))
        if torch.rand(1, generator=g) < 0.5:
            xb = xb.flip(-2)  # mirror along W of (T, H, W, 3)
            labels[b] = flip_map[labels[b]]
        gain = float(torch.empty(1).uniform_(0.7, 1.3, generator=g))
        bias = float(torch.empty(1).uniform_(-0.1, 0.1, generator=g))
        out[b] = xb
        out[b, ..., :3].mul_(gain).add_(bias).clamp_(0, 1)
    # (B, T, H, W, 3) => (B, 3, T, H, W); contiguous, not channels-last (another conv kernel path)
    rgb = out[..., :3].permute(0, 4, 1, 2, 3).contiguous()
    return (rgb, labels) if masks is None else (rgb, labels, out[..., 3].clamp_(0, 1))


def _center(frames: torch.Tensor, out_size: int) -> torch.Tensor:
    """uint8 (B, T, S, S, 3) -> float (B, 3, T, out, out) in [0, 1], the whole frame resized."""
    B, T = frames.shape[:2]
    x = resize_frames(frames.flatten(0, 1).float().div_(255), (out_size, out_size))
    # (B, T, H, W, 3) => (B, 3, T, H, W), a channels-last view (the layout evaluation always used)
    return x.reshape(B, T, out_size, out_size, 3).permute(0, 4, 1, 2, 3)


def _normalise(x: torch.Tensor, mean, std) -> torch.Tensor:
    m = torch.tensor(mean, device=x.device).view(1, 3, 1, 1, 1)
    s = torch.tensor(std, device=x.device).view(1, 3, 1, 1, 1)
    return (x - m) / s


@torch.no_grad()
def evaluate_cached(model: nn.Module, frames, labels, spec, device, batch_size: int = 16, amp: bool = False):
    """(top-1, top-2, logits) of ``model`` on cached frames (no augmentation)."""
    was = model.training
    model.eval()
    logits = []
    for i in range(0, len(frames), batch_size):
        x = _normalise(_center(frames[i:i + batch_size], spec.input_size[0]), spec.mean, spec.std).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp and device.type == "cuda"):
            logits.append(model(x).float().cpu())
    model.train(was)
    logits = torch.cat(logits) if logits else torch.empty(0, 1)
    top2 = logits.topk(min(2, logits.shape[1]), dim=1).indices
    top1 = float((top2[:, 0] == labels).float().mean()) if len(labels) else float("nan")
    top2a = float((top2 == labels[:, None]).any(1).float().mean()) if len(labels) else float("nan")
    return top1, top2a, logits


def _state_to_tensors(opt: torch.optim.Optimizer, sched, step: int, epoch: int) -> tuple[dict, dict]:
    sd = opt.state_dict()
    tensors, meta = {}, {"param_groups": sd["param_groups"], "step": step, "epoch": epoch,
                         "scheduler": sched.state_dict(), "scalars": {}}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"optim.{pid}.{k}"] = v
            else:
                meta["scalars"][f"{pid}.{k}"] = v
    return tensors, meta


def _restore(opt, sched, tensors: dict, meta: dict) -> tuple[int, int]:
    state: dict = {}
    for key, v in tensors.items():
        _, pid, k = key.split(".", 2)
        state.setdefault(int(pid), {})[k] = v
    for key, v in meta["scalars"].items():
        pid, k = key.split(".", 1)
        state.setdefault(int(pid), {})[k] = v
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    sched.load_state_dict(meta["scheduler"])
    return int(meta["step"]), int(meta["epoch"])


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lab.train", description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, nargs="+", action="extend", metavar="ROOT",
                   help="dataset root(s) in the SSv2 layout; several are trained on (and validated on) together")
    p.add_argument("--arch", default="i3d_tiny", help="registered model name")
    p.add_argument("--init", default=None,
                   help="initial weights: 'imagenet' (i3d_resnet50) or a .safetensors checkpoint to continue from")
    p.add_argument("--reinit", nargs="+", metavar="MODULE", default=None,
                   help="with --init: draw these modules' weights afresh (e.g. layer4 fc), so the top of "
                        "the network learns again on the new data while the rest keeps what it knew")
    p.add_argument("--crop-scale", type=float, default=0.75, metavar="MIN",
                   help="random crops keep MIN to 1 of each side (default %(default)s); near 1 keeps what "
                        "lies near the frame's edges, e.g. a corner logo")
    p.add_argument("--classes", default=None, help="JSON file with a list of class templates (a subset)")
    p.add_argument("--epochs", type=float, default=10)
    p.add_argument("--max-steps", type=int, default=None, help="the run's length in steps (instead of --epochs)")
    p.add_argument("--stop-at", type=int, default=None, metavar="STEP",
                   help="end this invocation at STEP, saving OUT/last.safetensors, with the schedule still "
                        "that of the whole run: a run longer than a session goes on later with --resume")
    p.add_argument("--batch-size", type=int, default=16, help="per process")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--cache-size", type=int, default=128, help="decoded frame size kept in memory")
    p.add_argument("--eval-every", type=int, default=200, help="steps between validation runs")
    p.add_argument("--out", required=True, help="run directory (checkpoints, log)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.safetensors")
    p.add_argument("--export", default=None, help="write the final model as a shippable checkpoint here")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--feature-stats", type=int, default=100, metavar="PER_CLASS",
                   help="with --export: fit the training data's feature statistics on this many clips a class "
                        "(python -m lab.familiarity fit; core.familiarity warns on clips unlike them); 0: none")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--amp", action="store_true", help="bf16 autocast on CUDA")
    p.add_argument("--cam-loss", type=float, default=0.0, metavar="WEIGHT",
                   help="add WEIGHT x a loss that puts the true class's activation map on the rendered object's "
                        "mask and inside the action's frames (needs ground_truth/ and an I3DResNet; see "
                        "lab.cam_loss)")
    p.add_argument("--distill", default=None, metavar="TEACHER",
                   help="also learn the class probabilities of this model (a registered name, or NAME=CHECKPOINT) "
                        "on the same augmented clips (knowledge distillation, Hinton et al. 2015; DeiT)")
    p.add_argument("--distill-weight", type=float, default=0.5, metavar="W",
                   help="loss = (1 - W) * cross-entropy + W * KL(teacher || student)")
    p.add_argument("--cam-skip", nargs="+", default=(), metavar="CLASS",
                   help="classes whose masks --cam-loss leaves out of 'where' (camera classes always are): e.g. "
                        "'Covering [something] with [something]' 'Uncovering [something]', where the cover moves")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(argv)
    command = "python -m lab.train " + shlex.join(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    if world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed + rank)
    roots, out = [Path(d) for d in args.data], Path(args.out)
    if len({r.resolve() for r in roots}) < len(roots):
        raise SystemExit(f"--data names a data set twice ({' '.join(args.data)}); name each once")
    out.mkdir(parents=True, exist_ok=True)

    spec = get_spec(args.arch)
    categories = json.loads(Path(args.classes).read_text()) if args.classes else list(_dataset_classes(roots[0]))
    for other in roots[1:]:
        if not args.classes and list(_dataset_classes(other)) != categories:
            raise SystemExit(f"--data: {other} has other classes than {roots[0]}; train on data sets of the "
                             "same classes, or pick a subset with --classes")
    T, S = spec.num_frames, spec.input_size[0]
    train_x, train_y = _joined([load_cached_split(r, "train", categories, T, args.cache_size, rank) for r in roots])
    val_x, val_y = _joined([load_cached_split(r, "validation", categories, T, args.cache_size, rank) for r in roots])
    truth = None
    if args.cam_loss:
        try:
            truth = GroundTruthCache(*_joined([load_cached_ground_truth(r, "train", categories, T, args.cache_size, rank,
                                                                       skip=args.cam_skip) for r in roots]))
        except ValueError as e:
            raise SystemExit(str(e)) from None
        if not bool(truth.use.any()):
            raise SystemExit(f"--cam-loss: {' '.join(args.data)} has no ground_truth/ masks for object classes; "
                             "render the data with python -m lab.data, or leave --cam-loss out")
    if world > 1:
        dist.barrier()

    if args.init:  # 'imagenet' (i3d_resnet50) or a checkpoint to fine-tune or continue from
        model = load_model(args.arch, weights=args.init)
        if model.fc.out_features != len(categories):  # a new head only when the classes differ
            model.fc = nn.Linear(model.fc.in_features, len(categories))
    else:
        model = load_model(args.arch, weights=None, num_classes=len(categories))
    if not 0.1 <= args.crop_scale <= 1:
        raise SystemExit(f"--crop-scale {args.crop_scale}: give a share of the side in [0.1, 1]")
    if args.reinit:
        if not args.init:
            raise SystemExit("--reinit re-draws parts of the --init weights; give --init too")
        _reinit(model, args.reinit, args.seed)
    if args.cam_loss and not isinstance(model, I3DResNet):
        raise SystemExit(f"--cam-loss needs a network that ends in an average pool and one linear layer "
                         f"(i3d_tiny, i3d_tiny14, i3d_resnet50); {args.arch} does not")
    model = model.to(device).train()
    net = nn.parallel.DistributedDataParallel(model) if world > 1 else model
    teacher = _teacher(args.distill, spec, categories, device) if args.distill else None

    steps_per_epoch = max(1, len(train_x) // (args.batch_size * world))
    total = args.max_steps or math.ceil(args.epochs * steps_per_epoch)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    warm = max(1, min(200, total // 10))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / total))))
    step, epoch, skip = 0, 0, 0
    last = out / "last.safetensors"
    gen = torch.Generator().manual_seed(args.seed * 1000 + rank)
    run = {"commands": [command], "history": []}  # every command that trained this state; every evaluation
    if args.resume and last.is_file():
        tensors, meta = load_checkpoint(last)
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        step, epoch = _restore(opt, sched, {k: v for k, v in tensors.items() if k.startswith("optim.")}, meta["train_state"])
        skip = int(meta["train_state"].get("batch_in_epoch", 0))
        if "rng.augment" in tensors and world == 1:  # the augmentation draws go on where they stopped
            gen.set_state(tensors["rng.augment"])
            torch.set_rng_state(tensors["rng.torch"])
        run = {"commands": [*meta.get("commands", [meta.get("training_command", "")]), command],
               "history": list(meta.get("history", []))}
        if rank == 0:
            print(f"resumed from {last} at step {step} (epoch {epoch}, batch {skip})")

    flip_map = torch.tensor(flip_label_map(categories))
    crit = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    from tqdm import tqdm

    log = (out / "log.jsonl").open("a") if rank == 0 else None
    bar = tqdm(total=total, initial=step, desc="train", disable=rank != 0)
    best = -1.0
    t0 = time.time()
    end = min(total, args.stop_at) if args.stop_at else total
    while step < end:
        perm = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(args.seed + epoch))
        shard = perm[rank::world]
        for b, i in enumerate(range(0, len(shard) - args.batch_size + 1, args.batch_size)):
            if b < skip:  # a resumed run goes on mid-epoch, where the saved state stopped
                continue
            if step >= end:
                break
            idx = shard[i:i + args.batch_size]
            if args.cam_loss:
                x, y, m = _augment(train_x[idx], train_y[idx], flip_map, S, gen, masks=truth.masks[idx],
                                   min_scale=args.crop_scale)
            else:
                x, y = _augment(train_x[idx], train_y[idx], flip_map, S, gen, min_scale=args.crop_scale)
            x_raw = x
            x, y = _normalise(x, spec.mean, spec.std).to(device), y.to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.amp and device.type == "cuda"):
                if args.cam_loss:
                    logits, feats = net(x, return_features=True)
                    where, when = cam_localisation_loss(feats.float(), model.fc.weight.float(), y, m.to(device),
                                                        truth.use[idx].to(device), truth.inside[idx].to(device))
                    loss = crit(logits.float(), y) + args.cam_loss * (where + when)
                else:
                    logits = net(x).float()
                    loss = crit(logits, y)
                    if teacher is not None:
                        with torch.no_grad():
                            target = teacher[0](_normalise(x_raw, *teacher[1]).to(device)).float().softmax(-1)
                        kl = nn.functional.kl_div(logits.log_softmax(-1), target, reduction="batchmean")
                        loss = (1 - args.distill_weight) * loss + args.distill_weight * kl
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{sched.get_last_lr()[0]:.2e}",
                            **({"where": f"{where.item():.3f}", "when": f"{when.item():.3f}"} if args.cam_loss else {}))
            if step % args.eval_every == 0 or step in (total, end):
                top1, top2, _ = evaluate_cached(model, val_x[rank::world], val_y[rank::world], spec, device, amp=args.amp)
                if world > 1:
                    t = torch.tensor([top1, top2], device=device)
                    dist.all_reduce(t)
                    top1, top2 = (t / world).tolist()
                if rank == 0:
                    rec = {"step": step, "epoch": epoch, "loss": round(loss.item(), 4), "val_top1": top1,
                           "val_top2": top2, "elapsed_s": round(time.time() - t0, 1)}
                    if args.cam_loss:
                        rec.update(cam_where=round(where.item(), 4), cam_when=round(when.item(), 4))
                    log.write(json.dumps(rec) + "\n")
                    log.flush()
                    bar.write(json.dumps(rec))
                    run["history"].append(rec)
                    where_now = (b + 1, gen)
                    _save_train_state(model, opt, sched, step, epoch, last, args, run, categories, rec, where_now)
                    if top1 >= best:
                        best = top1
                        _save_train_state(model, opt, sched, step, epoch, out / "best.safetensors", args, run,
                                          categories, rec, where_now)
        else:
            epoch, skip = epoch + 1, 0
    bar.close()
    if rank == 0 and args.export and step >= total:
        final_top1, final_top2, _ = evaluate_cached(model, val_x, val_y, spec, device, amp=args.amp)
        export(model, spec, categories, Path(args.export), args, run["commands"], roots,
               {"val_top1": final_top1, "val_top2": final_top2, "steps": step, "train_clips": len(train_x)},
               history=run["history"])
        print(f"exported {args.export}.safetensors (val top-1 {final_top1:.3f})")
        if args.feature_stats:  # what core.familiarity reads: the training data's features, calibrated
            from .familiarity import main as familiarity

            familiarity(["fit", "--model", args.arch, "--weights", str(Path(args.export).with_suffix(".safetensors")),
                         "--data", *args.data, "--per-class", str(args.feature_stats),
                         "--write", str(Path(args.export).with_suffix(".json"))])
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return 0


def _reinit(model: nn.Module, names: list[str], seed: int) -> None:
    """Reset every parameterised submodule of the named modules (their own default initialisation)."""
    modules = dict(model.named_modules())
    unknown = [n for n in names if n not in modules or n == ""]
    if unknown:
        tops = [n for n, _ in model.named_children()]
        raise SystemExit(f"--reinit {' '.join(unknown)}: not modules of the model; e.g. {', '.join(tops[-3:])}")
    torch.manual_seed(seed)
    for name in names:
        for m in modules[name].modules():
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()
            if hasattr(m, "reset_running_stats"):
                m.reset_running_stats()


def _teacher(which: str, spec, categories: list[str], device):
    """(the teacher model in eval mode, its (mean, std)) for ``--distill NAME[=CHECKPOINT]``; it must
    know the same classes and take clips of the same frames and size."""
    name, _, weights = which.partition("=")
    teacher = load_model(name, weights=weights or "default", device=device).eval()
    t = teacher.spec
    if list(t.categories) != list(categories):
        raise SystemExit(f"--distill {which}: its classes differ from the data's; distil from a model of the same classes")
    if (t.num_frames, tuple(t.input_size)) != (spec.num_frames, tuple(spec.input_size)):
        raise SystemExit(f"--distill {which}: it takes {t.num_frames}x{t.input_size[0]}x{t.input_size[1]} clips, "
                         f"the student {spec.num_frames}x{spec.input_size[0]}x{spec.input_size[1]}")
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher, (t.mean, t.std)


def _joined(parts: list[tuple[torch.Tensor, ...]]) -> tuple[torch.Tensor, ...]:
    """Per-root tuples of tensors (frames, labels, ...) joined along the clip axis."""
    return parts[0] if len(parts) == 1 else tuple(torch.cat(ts) for ts in zip(*parts, strict=True))


def _dataset_classes(root: Path) -> list[str]:
    labels = json.loads((root / "labels.json").read_text())
    names = sorted(labels, key=lambda k: int(labels[k]))
    meta = root / "dataset.json"
    if meta.is_file():  # our generator records the bracketed templates
        templates = json.loads(meta.read_text()).get("classes")
        if templates and len(templates) == len(names):
            return list(templates)
    return names


def _save_train_state(model, opt, sched, step, epoch, path, args, run, categories, rec, where) -> None:
    """One file that a later ``--resume`` (on another machine, after re-rendering the data from its
    seeds) goes on from exactly: weights, optimiser, schedule, step, position in the epoch, the
    augmentation and torch RNG states, every command that trained it and every evaluation."""
    batch_in_epoch, gen = where
    tensors, meta = _state_to_tensors(opt, sched, step, epoch)
    meta["batch_in_epoch"] = batch_in_epoch
    tensors.update({f"model.{k}": v for k, v in model.state_dict().items()})
    tensors.update({"rng.augment": gen.get_state(), "rng.torch": torch.get_rng_state()})
    save_checkpoint(tensors, {"arch": args.arch, "categories": categories, "train_state": meta, "last_eval": rec,
                              "training_command": run["commands"][-1], "commands": run["commands"],
                              "history": run["history"]}, path)


def export(model: nn.Module, spec, categories, path: Path, args, commands: list[str], roots: list[Path],
           metrics: dict, history: list[dict] | None = None) -> Path:
    """Write the shippable checkpoint: safetensors + JSON with everything needed to reproduce it.

    ``data`` is the first root's manifest (seed, counts, render options); with several roots,
    ``data_sets`` lists every one's. ``shortcut`` names the class that carried a planted shortcut
    in the training data (``lab.data --shortcut``), when one did.
    """
    manifests = []
    for root in roots:
        m = json.loads((root / "dataset.json").read_text()) if (root / "dataset.json").is_file() else {}
        m.pop("classes", None)
        manifests.append(m)
    data_meta = manifests[0]
    # A data set with a planted shortcut (lab.data --shortcut) makes a model that may use it: say so.
    shortcuts = {m["render_options"]["shortcut"]["label"] for m in manifests
                 if isinstance(m.get("render_options"), dict) and m["render_options"].get("shortcut")}
    meta = {
        "arch": args.arch,
        "categories": list(categories),
        "num_frames": spec.num_frames,
        "input_size": list(spec.input_size),
        "resize_size": spec.resize_size,
        "mean": list(spec.mean),
        "std": list(spec.std),
        "sampling": spec.sampling,
        "sample_fps": spec.sample_fps,
        "layers": list(spec.layers),
        "default_layer": spec.default_layer,
        "data": data_meta,
        **({"data_sets": manifests} if len(manifests) > 1 else {}),
        **({"shortcut": sorted(shortcuts)[0] if len(shortcuts) == 1 else sorted(shortcuts)} if shortcuts else {}),
        "training_command": commands[-1],
        "training_commands": [*_lineage(args.init), *commands],  # a resumed run: each command that trained it
        **({"validation_curve": history} if history else {}),
        "training_args": vars(args),
        "metrics": metrics,
        "torch": torch.__version__,
        "created": time.strftime("%Y-%m-%d"),
    }
    return save_checkpoint(model.state_dict(), meta, path)


def _lineage(init: str | None) -> list[str]:
    """The commands that produced ``--init``'s checkpoint, oldest first; empty when training from scratch."""
    if not init or not str(init).endswith((".safetensors", ".json")):
        return []
    _, meta = load_checkpoint(init)
    if meta.get("training_commands"):
        return list(meta["training_commands"])
    return [meta["training_command"]] if meta.get("training_command") else []


if __name__ == "__main__":
    sys.exit(main())
