"""Stage 3: train the model on CPU (bf16 autocast), checkpointed and resumable.

The learning-rate schedule is driven by wall-clock training time (linear warmup, cosine decay to 10%), so a run
given a time budget (SD_TRAIN_MINUTES) ends on time whatever the machine's contention; the number of steps and
tokens actually done are recorded in the checkpoint and the log.

Checkpoints: work/train/ckpt.pt written to a temporary file, fsynced and renamed, with a sidecar ckpt.json holding
its SHA-256; on resume the hash, the tensor shapes and finiteness are verified, and a mismatching or partial
checkpoint stops the run with a clear message (or falls back to ckpt.prev.pt if that one verifies).
"""
import argparse
import hashlib
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bpe  # noqa: E402
from warm_start import config_from_dir, state_from_onnx, verify_reference  # noqa: E402
from cpu import cpu_info, reexec_with_heap_malloc  # noqa: E402
from data import Corpus, Sampler, val_sets  # noqa: E402
from model import Config, Model  # noqa: E402

WORK = os.environ.get("SD_WORK", os.path.join(HERE, "work"))

PRESETS = {
    # name: (hidden, layers, heads, kv_heads, head_dim, intermediate)
    "tiny": (128, 2, 2, 1, 64, 384),
    "mini": (128, 6, 2, 1, 64, 384),
    "small": (192, 6, 3, 1, 64, 512),
    "base": (256, 6, 4, 2, 64, 704),
}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_checkpoint(state, out_dir):
    path = os.path.join(out_dir, "ckpt.pt")
    tmp = path + ".tmp"
    torch.save(state, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    digest = sha256(tmp)
    if os.path.exists(path):
        os.replace(path, os.path.join(out_dir, "ckpt.prev.pt"))
        if os.path.exists(os.path.join(out_dir, "ckpt.json")):
            os.replace(os.path.join(out_dir, "ckpt.json"), os.path.join(out_dir, "ckpt.prev.json"))
    os.replace(tmp, path)
    meta = {"sha256": digest, "step": state["step"], "tokens": state["tokens"], "elapsed": state["elapsed"]}
    with open(os.path.join(out_dir, "ckpt.json.tmp"), "w") as f:
        json.dump(meta, f)
    os.replace(os.path.join(out_dir, "ckpt.json.tmp"), os.path.join(out_dir, "ckpt.json"))


class CheckpointError(Exception):
    pass


def load_checkpoint(out_dir, name="ckpt"):
    """Load and verify a checkpoint; raises CheckpointError when it is partial or corrupt."""
    path = os.path.join(out_dir, name + ".pt")
    meta_path = os.path.join(out_dir, name + ".json")
    if not os.path.exists(path):
        return None
    if not os.path.exists(meta_path):
        raise CheckpointError(f"{path} has no {name}.json (interrupted write?)")
    with open(meta_path) as f:
        meta = json.load(f)
    if sha256(path) != meta.get("sha256"):
        raise CheckpointError(f"{path}: SHA-256 does not match {meta_path} (partial or corrupt file)")
    try:
        state = torch.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001
        raise CheckpointError(f"{path}: cannot be read ({e})") from e
    for k in ("model", "config", "step", "tokens", "elapsed"):
        if k not in state:
            raise CheckpointError(f"{path}: missing field {k}")
    for n, t in state["model"].items():
        if not torch.isfinite(t).all():
            raise CheckpointError(f"{path}: tensor {n} has NaN/Inf")
    return state


def load_model_from_checkpoint(out_dir):
    state = None
    for name in ("ckpt", "ckpt.prev"):
        try:
            state = load_checkpoint(out_dir, name)
        except CheckpointError as e:
            print(f"checkpoint: {e}", file=sys.stderr)
            state = None
        if state is not None:
            break
    if state is None:
        raise SystemExit(f"no valid checkpoint in {out_dir}; run the train stage first")
    cfg = Config(**state["config"])
    m = Model(cfg)
    m.load_state_dict(state["model"], strict=True)
    return m, state


LOSS_CHUNK = 512


class FusedLMLoss(torch.autograd.Function):
    """Mean cross-entropy of the tied LM head, mean(logsumexp(h·Wᵀ) − (h·Wᵀ)[y]), computed in slices of LOSS_CHUNK
    rows; the backward pass recomputes each slice's softmax. The [tokens, vocab] logits, their log-softmax and its
    gradient (128 MB each for 4,096 tokens × 8,192) never exist: on CPU those tensors, above glibc's 32 MB mmap
    threshold, are page-faulted in afresh on every step, and the slices stay in cache. Same gradients as
    F.cross_entropy(h @ W.T, y) (training/throughput.py measures it)."""

    @staticmethod
    def forward(ctx, h, w, y):
        n = h.shape[0]
        lse = torch.empty(n, dtype=torch.float32)
        target = torch.empty(n, dtype=torch.float32)
        for s in range(0, n, LOSS_CHUNK):
            z = (h[s:s + LOSS_CHUNK] @ w.t()).float()
            lse[s:s + LOSS_CHUNK] = torch.logsumexp(z, 1)
            target[s:s + LOSS_CHUNK] = z.gather(1, y[s:s + LOSS_CHUNK, None])[:, 0]
        ctx.save_for_backward(h, w, y, lse)
        return (lse - target).mean()

    @staticmethod
    def backward(ctx, grad):
        h, w, y, lse = ctx.saved_tensors
        n = h.shape[0]
        gh = torch.empty_like(h)
        gw = torch.zeros_like(w)
        rows = torch.arange(LOSS_CHUNK)
        for s in range(0, n, LOSS_CHUNK):
            hs = h[s:s + LOSS_CHUNK]
            p = torch.exp((hs @ w.t()).float() - lse[s:s + LOSS_CHUNK, None])
            p[rows[:p.shape[0]], y[s:s + LOSS_CHUNK]] -= 1
            p *= grad / n
            p = p.to(h.dtype)
            gh[s:s + LOSS_CHUNK] = p @ w
            gw.addmm_(p.t(), hs)
        return gh, gw, None


def lm_loss(model, batch, bf16=True, fused=True):
    """Mean next-token loss of a [B, T+1] batch (the model in bf16 autocast or fp32); `fused` uses FusedLMLoss."""
    x, y = batch[:, :-1], batch[:, 1:].reshape(-1)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        if not fused:
            return F.cross_entropy(model(x).float().reshape(-1, model.c.vocab_size), y)
        h = model.hidden(x)
    h = h.float().reshape(-1, h.shape[-1])
    return FusedLMLoss.apply(h, model.embed_tokens.weight, y)


def train_step(model, opt, batch, bf16, fused=True):
    """One optimizer step on a [B, T+1] batch (gradient norm clipped to 1); returns (loss, gradient norm)."""
    loss = lm_loss(model, batch, bf16=bf16, fused=fused)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    gn = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss, gn


def lr_at(progress, warm_frac, peak, floor=0.1):
    if progress < warm_frac:
        return peak * progress / warm_frac
    p = min(1.0, (progress - warm_frac) / max(1e-9, 1 - warm_frac))
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p)))


@torch.no_grad()
def evaluate(model, seqs, bf16=True):
    """Mean loss (nats/token) over masked target positions of fixed validation sequences."""
    model.eval()
    tot, n = 0.0, 0
    for ids, mask in seqs:
        x = torch.tensor(ids[:-1])[None]
        y = torch.tensor(ids[1:])
        mk = torch.tensor(mask[1:], dtype=torch.bool)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        loss = F.cross_entropy(logits[0].float()[mk], y[mk], reduction="sum")
        tot += loss.item()
        n += int(mk.sum())
    model.train()
    return tot / max(1, n)


def pick_dtype(choice, model, cfg, args):
    """bf16 autocast or fp32 for this run: as asked, or (auto) whichever trains faster here, timed on a few steps of
    random tokens in CPU time (AVX-512 BF16 machines run bf16 natively; AVX2-only ones emulate it). Logged with the
    CPU's flags."""
    info = cpu_info()
    timing = {}
    if choice == "auto":
        saved = {k: v.clone() for k, v in model.state_dict().items()}
        T = args.seq
        batch = torch.randint(6, cfg.vocab_size, (max(1, args.batch_tokens // T), T + 1))
        for dt in ("bf16", "fp32", "bf16", "fp32"):
            lm_loss(model, batch, bf16=dt == "bf16").backward()  # warm-up
            t0 = time.process_time()
            for _ in range(2):
                lm_loss(model, batch, bf16=dt == "bf16").backward()
            timing[dt] = min(timing.get(dt, 1e9), time.process_time() - t0)
        model.zero_grad(set_to_none=True)
        model.load_state_dict(saved)
        choice = "bf16" if timing["bf16"] < timing["fp32"] else "fp32"
    rec = {"dtype": choice, "cpu_s_per_2_steps": {k: round(v, 3) for k, v in timing.items()}, "cpu": info,
           "malloc": os.environ.get("GLIBC_TUNABLES", "default"), "threads": args.threads}
    print(json.dumps(rec), flush=True)
    return choice, rec


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default=os.environ.get("SD_PRESET", "small"), choices=sorted(PRESETS))
    ap.add_argument("--minutes", type=float, default=float(os.environ.get("SD_TRAIN_MINUTES", "90")))
    ap.add_argument("--out", default=os.path.join(WORK, "train"))
    ap.add_argument("--batch-tokens", type=int, default=4096)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--long-seq", type=int, default=1024)
    ap.add_argument("--long-every", type=int, default=4, help="every Nth step uses --long-seq (0: never)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=float, default=0.03, help="fraction of the time budget")
    ap.add_argument("--fim-rate", type=float, default=0.6)
    ap.add_argument("--ckpt-minutes", type=float, default=4.0)
    ap.add_argument("--eval-minutes", type=float, default=10.0)
    ap.add_argument("--val-seqs", type=int, default=32, help="validation sequences of each kind during training")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--extend-minutes", type=float, default=0.0,
                    help="when resuming, add this much training time to the budget (the cosine tail re-stretches)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--dtype", default=os.environ.get("SD_DTYPE", "auto"), choices=("auto", "bf16", "fp32"),
                    help="autocast dtype of the model; auto times both on this CPU and keeps the faster")
    ap.add_argument("--init-onnx", default=os.environ.get("SD_INIT_ONNX"),
                    help="without a checkpoint, start from a shipped model directory's weights (warm_start.py)")
    args = ap.parse_args()
    reexec_with_heap_malloc()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    tok_path = os.path.join(WORK, "tokenizer", "merges.json")
    if not os.path.isfile(tok_path):
        raise SystemExit(f"missing {tok_path}; run the tokenizer stage first")
    tok = bpe.Tokenizer.load(tok_path)

    state = None
    try:
        state = load_checkpoint(args.out)
    except CheckpointError as e:
        print(f"checkpoint: {e}", file=sys.stderr)
        try:
            state = load_checkpoint(args.out, "ckpt.prev")
            print("checkpoint: resuming from the previous checkpoint instead", file=sys.stderr)
        except CheckpointError as e2:
            raise SystemExit(f"checkpoint: {e2}; move {args.out} away to start over") from e2
    if state is not None:
        cfg = Config(**state["config"])
        budget_s = state["budget_s"]
        if args.extend_minutes > 0:
            budget_s = max(budget_s, state["elapsed"]) + args.extend_minutes * 60
        print(f"resuming at step {state['step']}, {state['tokens']/1e6:.2f}M tokens, "
              f"{state['elapsed']/60:.1f} of {budget_s/60:.0f} min")
    elif args.init_onnx:
        cfg = config_from_dir(args.init_onnx)
        if cfg.vocab_size != tok.vocab_size:
            raise SystemExit(f"{args.init_onnx} has a {cfg.vocab_size}-token vocabulary, work/tokenizer {tok.vocab_size}: "
                             f"encode with its tokenizer (training/tokenizer.py --from {args.init_onnx}/tokenizer.json)")
        budget_s = args.minutes * 60
    else:
        h, L, nh, kvh, hd, inter = PRESETS[args.preset]
        cfg = Config(vocab_size=tok.vocab_size, hidden_size=h, num_hidden_layers=L, num_attention_heads=nh,
                     num_key_value_heads=kvh, head_dim=hd, intermediate_size=inter)
        budget_s = args.minutes * 60
    torch.manual_seed(args.seed)
    model = Model(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.1)
    step, tokens, elapsed = 0, 0, 0.0
    if state is not None:
        model.load_state_dict(state["model"], strict=True)
        opt.load_state_dict(state["opt"])
        step, tokens, elapsed = state["step"], state["tokens"], state["elapsed"]
    elif args.init_onnx:
        # warm restart: the shipped weights, a fresh optimizer; the tokens seen so far continue the curve
        model.load_state_dict(state_from_onnx(os.path.join(args.init_onnx, "model.onnx"), cfg), strict=True)
        worst = verify_reference(model, args.init_onnx)
        with open(os.path.join(args.init_onnx, "config.json")) as f:
            seen = json.load(f).get("superdraft", {}).get("training", {})
        step, tokens = int(seen.get("step", 0)), int(seen.get("tokens", 0))
        print(f"warm start from {args.init_onnx}: step {step}, {tokens/1e6:.2f}M tokens seen, "
              f"reference logits within {worst:.2e}", flush=True)
    print(f"model: {model.num_params()/1e6:.3f}M params ({cfg})", flush=True)
    dtype, dtype_rec = pick_dtype(args.dtype, model, cfg, args)
    use_bf16 = dtype == "bf16"

    train = Corpus(WORK, "train", tok)
    val = Corpus(WORK, "val", tok)
    val_l2r, val_fim = val_sets(val, 512, args.val_seqs, args.val_seqs)
    sampler = Sampler(train, seed=args.seed + step, fim_rate=args.fim_rate)
    log_path = os.path.join(args.out, "log.jsonl")
    log = open(log_path, "a")

    def write_log(rec):
        log.write(json.dumps(rec) + "\n")
        log.flush()

    write_log({"run": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "step": step, "tokens": tokens, **dtype_rec})

    def checkpoint():
        save_checkpoint({"model": model.state_dict(), "opt": opt.state_dict(), "config": cfg.to_dict(),
                         "step": step, "tokens": tokens, "elapsed": elapsed, "budget_s": budget_s,
                         "args": vars(args)}, args.out)

    tokens0, elapsed0 = tokens, elapsed  # this run's rate (a warm start or a resume begins with tokens seen)
    last_ckpt = last_eval = time.time()
    if state is None:
        vl, vf = evaluate(model, val_l2r), evaluate(model, val_fim)
        write_log({"step": step, "tokens": tokens, "elapsed": elapsed, "val_loss": vl, "val_fim_loss": vf})
    t_prev = time.time()
    ema = None
    while elapsed < budget_s:
        long = args.long_every > 0 and step % args.long_every == args.long_every - 1
        T = args.long_seq if long else args.seq
        B = max(1, args.batch_tokens // T)
        batch = torch.from_numpy(sampler.batch(B, T))
        lr = lr_at(elapsed / budget_s, args.warmup, args.lr)
        for g in opt.param_groups:
            g["lr"] = lr
        loss, gn = train_step(model, opt, batch, bf16=use_bf16)
        step += 1
        tokens += B * T
        now = time.time()
        elapsed += now - t_prev
        t_prev = now
        lv = loss.item()
        if not math.isfinite(lv):
            raise SystemExit(f"loss became {lv} at step {step}; resume from the last checkpoint with a lower --lr")
        ema = lv if ema is None else 0.98 * ema + 0.02 * lv
        if step % 10 == 0:
            rec = {"step": step, "tokens": tokens, "elapsed": round(elapsed, 1), "loss": round(ema, 4),
                   "lr": lr, "gnorm": round(float(gn), 3), "tok_s": round((tokens - tokens0) / max(1e-9, elapsed - elapsed0))}
            write_log(rec)
            print(json.dumps(rec), flush=True)
        if now - last_eval > args.eval_minutes * 60:
            vl, vf = evaluate(model, val_l2r), evaluate(model, val_fim)
            write_log({"step": step, "tokens": tokens, "elapsed": round(elapsed, 1), "val_loss": vl,
                       "val_fim_loss": vf})
            print(f"eval step {step}: val {vl:.4f} fim {vf:.4f}", flush=True)
            last_eval = time.time()
            t_prev = last_eval  # evaluation time does not count against the training budget
        if now - last_ckpt > args.ckpt_minutes * 60:
            checkpoint()
            last_ckpt = time.time()
            t_prev = last_ckpt
    vl, vf = evaluate(model, val_l2r), evaluate(model, val_fim)
    write_log({"step": step, "tokens": tokens, "elapsed": round(elapsed, 1), "val_loss": vl, "val_fim_loss": vf,
               "final": True})
    checkpoint()
    print(f"done: {step} steps, {tokens/1e6:.2f}M tokens, {elapsed/60:.1f} min, val {vl:.4f} fim {vf:.4f}")


if __name__ == "__main__":
    main()
