"""Training throughput of the embedded model's step, variant by variant, on this machine (issue: embedded model v2).

Times the real training step (the Sampler's packed FIM/left-to-right batches, forward, loss, backward, clip, AdamW)
for each variant, in interleaved rounds so that load changes on the machine hit every variant alike, and reports
tokens/s per variant (median of rounds), the share of the step spent making the batch, and the CPU's flags.

    /usr/bin/python3 training/throughput.py [--preset mini] [--rounds 3] [--steps 6] [--variants a,b,...]

Variants are named dtype-threads-batchtokens-seq-loss[-heap]: e.g. bf16-2-4096-512-full (the last run's setting),
fp32-1-16384-512-fused-heap. "fused" is train.py's FusedLMLoss (the LM head and loss in slices), "full"
F.cross_entropy over the whole [tokens, vocab] logits; "heap" runs with cpu.HEAP_TUNABLES (no mmap for big blocks). Both wall-clock and process CPU time are reported: on a machine shared with
other jobs, tokens per CPU-second (threads 1) is the figure that load does not distort.
Needs the tokenizer stage's work/tokens (bash training/run.sh tokenizer).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bpe  # noqa: E402
from cpu import HEAP_TUNABLES, cpu_info  # noqa: E402
from data import Corpus, Sampler  # noqa: E402
from model import Config, Model  # noqa: E402
from train import PRESETS, WORK, train_step  # noqa: E402

DEFAULT_VARIANTS = ",".join([
    "bf16-1-4096-512-full",            # the last run's setting (on one thread)
    "bf16-1-4096-512-fused",
    "bf16-1-4096-512-fused-heap",
    "fp32-1-4096-512-fused-heap",
    "bf16-1-8192-512-fused-heap",
    "bf16-1-16384-512-fused-heap",
])


def parse_variant(name):
    parts = name.split("-")
    return {"name": name, "dtype": parts[0], "threads": int(parts[1]), "batch_tokens": int(parts[2]),
            "seq": int(parts[3]), "fused": len(parts) > 4 and parts[4] == "fused", "heap": parts[-1] == "heap"}


def run_one(v, preset, steps, seed):
    """One variant in this (fresh) process: tokens/s and tokens per CPU-second over `steps` steps after a warm-up."""
    tok = bpe.Tokenizer.load(os.path.join(WORK, "tokenizer", "merges.json"))
    corpus = Corpus(WORK, "train", tok)
    h, L, nh, nkv, hd, inter = PRESETS[preset]
    torch.set_num_threads(v["threads"])
    torch.manual_seed(seed)
    cfg = Config(vocab_size=tok.vocab_size, hidden_size=h, num_hidden_layers=L, num_attention_heads=nh,
                 num_key_value_heads=nkv, head_dim=hd, intermediate_size=inter)
    model = Model(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
    sampler = Sampler(corpus, seed=seed, fim_rate=0.6)
    T = v["seq"]
    B = max(1, v["batch_tokens"] // T)
    for step in range(steps + 2):  # two warm-up steps (allocations, kernel choice)
        if step == 2:
            t_start, c_start, data_s = time.perf_counter(), time.process_time(), 0.0
        t0 = time.perf_counter()
        batch = torch.from_numpy(sampler.batch(B, T))
        if step >= 2:
            data_s += time.perf_counter() - t0
        train_step(model, opt, batch, bf16=v["dtype"] == "bf16", fused=v["fused"])
    dt, cpu = time.perf_counter() - t_start, time.process_time() - c_start
    return {"tok_s": steps * B * T / dt, "tok_cpu_s": steps * B * T / cpu, "data_share": data_s / dt,
            "params": model.num_params()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="mini", choices=sorted(PRESETS))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--variants", default=DEFAULT_VARIANTS)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(parse_variant(args.one), args.preset, args.steps, seed=1)))
        return
    variants = [parse_variant(v) for v in args.variants.split(",")]
    results = {v["name"]: {"tok_s": [], "tok_cpu_s": [], "data_share": []} for v in variants}
    params = None
    for r in range(args.rounds):
        for v in variants:
            # each variant in a fresh process: the allocator's state (glibc raises its mmap threshold as big blocks
            # are freed) would otherwise favour whichever variant runs later
            out = subprocess.run([sys.executable, __file__, "--one", v["name"], "--preset", args.preset,
                                  "--steps", str(args.steps)], capture_output=True, text=True, check=True,
                                 env={k: x for k, x in os.environ.items() if k != "GLIBC_TUNABLES"} | ({"GLIBC_TUNABLES": HEAP_TUNABLES} if v["heap"] else {}))
            res = json.loads(out.stdout.strip().splitlines()[-1])
            params = res["params"]
            for k in ("tok_s", "tok_cpu_s", "data_share"):
                results[v["name"]][k].append(res[k])
            print(f"round {r + 1}/{args.rounds} {v['name']:28s} {res['tok_s']:8.0f} tok/s {res['tok_cpu_s']:8.0f} "
                  f"tok/CPU-s (batch making {100 * res['data_share']:.0f} %)", flush=True)
    base = statistics.median(results[variants[0]["name"]]["tok_cpu_s"])
    summary = {
        "cpu": cpu_info(),
        "preset": args.preset,
        "params": params,
        "variants": {k: {"tok_s": round(statistics.median(x["tok_s"])), "tok_cpu_s": round(statistics.median(x["tok_cpu_s"])),
                         "cpu_over_first": round(statistics.median(x["tok_cpu_s"]) / base, 2),
                         "data_share": round(statistics.median(x["data_share"]), 3)} for k, x in results.items()},
    }
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
