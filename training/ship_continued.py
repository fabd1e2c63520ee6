"""Ship a continued (warm-restarted) run into models/default: the exported graph and reference logits, config.json's
training record, the loss curve continued from the card's table, and a card section saying what the run was.

A warm restart (train.py --init-onnx models/default) continues the shipped weights on work/'s corpus with the
shipped tokenizer; write_model.py would rebuild the whole card from work/'s statistics of a full pipeline run, which
a continued run does not have. This keeps the card and the n-gram table and adds to them.

    /usr/bin/python3 training/export.py
    /usr/bin/python3 training/ship_continued.py --before-val 3.6734 [--out models/default]
    node training/verify_onnx.mjs models/default model.onnx

--before-val is the shipped model's fp32 validation loss on work/'s held-out split, measured before the run
(`training/warm_start.py models/default --val`); the new checkpoint's is measured here the same way.
"""
import argparse
import json
import os
import re
import shutil
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bpe  # noqa: E402
from evaluate import N_SEQ, fp32_val_loss, held_out_sets  # noqa: E402
from train import WORK, load_model_from_checkpoint  # noqa: E402
from write_model import read_log, svg_plot  # noqa: E402

ROOT = os.path.dirname(HERE)


def card_table(card):
    """(tokens, val L2R, val FIM) rows of the card's loss table."""
    rows = []
    for m in re.finditer(r"^\| ([\d,]+) \| ([\d.]+) \| ([\d.]+) \|$", card, re.M):
        rows.append({"tokens": int(m.group(1).replace(",", "")), "val_loss": float(m.group(2)),
                     "val_fim_loss": float(m.group(3))})
    return rows


def dedupe_steps(recs):
    """The log's records, a step logged twice (a run resumed from a checkpoint older than its last records) kept
    as it was logged last."""
    def key(r):
        return r.get("step"), "val" if "val_loss" in r else "run" if "run" in r else "train"
    last = {key(r): i for i, r in enumerate(recs)}
    return [r for i, r in enumerate(recs) if last[key(r)] == i]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "default"))
    ap.add_argument("--before-val", type=float, required=True)
    ap.add_argument("--before-fim", type=float)
    args = ap.parse_args()
    exp = os.path.join(WORK, "export")
    for f in ("model_fp32.onnx", "reference.json", "model_config.json"):
        if not os.path.isfile(os.path.join(exp, f)):
            sys.exit(f"ship_continued: missing {exp}/{f}; run training/export.py first")
    torch.set_num_threads(int(os.environ.get("SD_THREADS", "2")))
    model, state = load_model_from_checkpoint(os.path.join(WORK, "train"))
    tok = bpe.Tokenizer.load(os.path.join(WORK, "tokenizer", "merges.json"))
    with open(os.path.join(args.out, "tokenizer.json")) as f:
        shipped_merges = json.load(f)["model"]["merges"]
    if tok.to_hf_json()["model"]["merges"] != shipped_merges:
        sys.exit("ship_continued: work/tokenizer differs from the shipped tokenizer (tokenizer.py --from models/default/tokenizer.json)")
    vl, vf = fp32_val_loss(model, held_out_sets(tok))
    print(f"ship_continued: fp32 val loss L2R {vl:.4f} (shipped {args.before_val:.4f}), FIM {vf:.4f}")

    cfg_path = os.path.join(args.out, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    tr = cfg["superdraft"].setdefault("training", {})
    before = dict(tr)
    shipped_tokens = before.get("tokens") or 0
    if before.get("tokens") == state["tokens"]:
        sys.exit(f"ship_continued: {args.out} already holds this checkpoint ({state['tokens']:,} tokens seen)")
    # A warm restart (--init-onnx) starts its clock at 0; a resumed checkpoint (--extend-minutes) continues the
    # shipped run's clock, so this run's time starts where the log last stood at the shipped token count.
    log = dedupe_steps(read_log(os.path.join(WORK, "train", "log.jsonl")))
    start = next((r["elapsed"] for r in reversed(log) if "elapsed" in r and r["tokens"] <= shipped_tokens), None)
    run_args = state.get("args", {})
    resumed = not run_args.get("init_onnx") and start is not None
    run_minutes = (state["elapsed"] - (start if resumed else 0)) / 60
    # every continued run is kept, oldest first (a single earlier run was stored as one object)
    runs = before.get("continued", [])
    runs = [runs] if isinstance(runs, dict) else list(runs)
    runs.append({"from_tokens": before.get("tokens"), "shipped_val_loss_same_split": round(args.before_val, 4),
                 "val_loss": round(vl, 4), "minutes": round(run_minutes, 1), "date": time.strftime("%Y-%m-%d", time.gmtime())})
    tr.update(step=state["step"], tokens=state["tokens"],
              train_minutes=round(before.get("train_minutes", 0) + run_minutes, 1),
              val_loss=round(vl, 4), val_fim_loss=round(vf, 4),
              val_split="training/work held-out files of the current corpus (128 + 128 sequences of 512, PyTorch fp32)",
              continued=runs)

    card_path = os.path.join(args.out, "README.md")
    with open(card_path) as f:
        card = f.read()
    old = card_table(card)
    new = [r for r in log if "val_loss" in r and r["tokens"] > shipped_tokens]
    svg = svg_plot(old + [{"tokens": r["tokens"], "val_loss": r["val_loss"], "val_fim_loss": r["val_fim_loss"]} for r in new])
    rows = "".join(f"| {r['tokens']:,} | {r['val_loss']:.3f} | {r['val_fim_loss']:.3f} |\n" for r in new)
    if old and rows:
        last = f"| {old[-1]['tokens']:,} | {old[-1]['val_loss']:.3f} | {old[-1]['val_fim_loss']:.3f} |\n"
        at = card.rfind(last)  # the table's last row (a row's text may also appear earlier)
        card = card[:at] + last + rows + card[at + len(last):]
    section = (
        f"## Continued training, run {len(runs)} ({time.strftime('%Y-%m-%d', time.gmtime())})\n\n"
        + (f"Resumed from the shipped checkpoint (`train.py --extend-minutes {run_args.get('extend_minutes'):g} --lr "
           f"{run_args.get('lr')}`: the same AdamW state, the cosine schedule re-stretched over the added "
           f"time, {run_minutes:.0f} min of training)" if resumed else
           f"Warm restart from the shipped weights (`train.py --init-onnx models/default`, fresh AdamW, peak lr "
           f"{run_args.get('lr')}, {run_minutes:.0f} min of training)")
        + " on the current corpus encoded with the "
        f"shipped tokenizer: {shipped_tokens:,} → {state['tokens']:,} tokens seen. Fp32 validation loss on the "
        f"current corpus's held-out files (the same {N_SEQ} + {N_SEQ} sequences for both): left-to-right "
        f"{args.before_val:.3f} → {vl:.3f} nats/token"
        + (f", FIM middle {args.before_fim:.3f} → {vf:.3f}" if args.before_fim else f", FIM middle {vf:.3f}") +
        f". Rows after {shipped_tokens:,} tokens are this run's during-training measure on the current split (a "
        "rebuilt corpus has another held-out split than earlier rows). "
        "The n-gram table is unchanged (same tokenizer).\n\n")
    # a section per run (the same checkpoint is never shipped twice, above), before the file list
    marker = "## Files\n"
    card = card.replace(marker, section + marker, 1) if marker in card else card + "\n" + section

    shutil.copy(os.path.join(exp, "model_fp32.onnx"), os.path.join(args.out, "model.onnx.tmp"))
    os.replace(os.path.join(args.out, "model.onnx.tmp"), os.path.join(args.out, "model.onnx"))
    shutil.copy(os.path.join(exp, "reference.json"), os.path.join(args.out, "reference.json"))
    with open(cfg_path + ".tmp", "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    os.replace(cfg_path + ".tmp", cfg_path)
    with open(card_path, "w") as f:
        f.write(card)
    if svg:
        with open(os.path.join(args.out, "val_loss.svg"), "w") as f:
            f.write(svg)
    total = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    if total > 40e6:
        sys.exit(f"ship_continued: {args.out} is {total/1e6:.1f} MB, over the 40 MB limit")
    print(f"ship_continued: {args.out} updated ({total/1e6:.1f} MB); verify with node training/verify_onnx.mjs {args.out} model.onnx")


if __name__ == "__main__":
    main()
