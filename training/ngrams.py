"""Stage: static n-gram statistics of the training split, written as ngrams.bin (format in models/default/README.md).

For each order n (2..6) every (n-1)-token context of the training tokens is counted with its successors;
probabilities are count(context, token) / count(context) from the unpruned counts. Pruning keeps contexts seen at
least `min_ctx` times and, per context, the `top_k` most frequent successors seen at least twice; `min_ctx` is
raised per order until the file fits the size budget. The held-out split measures what each order buys
(coverage and top-1 accuracy of the longest matching context), written to work/ngrams/stats.json.
"""
import argparse
import json
import os
import struct
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.environ.get("SD_WORK", os.path.join(HERE, "work"))
BITS = 13  # vocab <= 8192


def pack(cols, start, count):
    """Pack count consecutive token columns starting at cols[start] into uint64 words, 4 tokens per word."""
    words = []
    for w0 in range(start, start + count, 4):
        acc = np.zeros(len(cols[0]), dtype=np.uint64)
        for j in range(w0, min(w0 + 4, start + count)):
            acc = (acc << np.uint64(BITS)) | cols[j].astype(np.uint64)
        words.append(acc)
    return words


def count_order(T, n):
    N = len(T) - n + 1
    cols = [T[i:i + N] for i in range(n)]
    ctx = pack(cols, 0, n - 1)
    nxt = cols[n - 1].astype(np.int64)
    order = np.lexsort([nxt] + ctx[::-1])
    ctx_s = [c[order] for c in ctx]
    nxt_s = nxt[order]
    new_ctx = np.zeros(N, dtype=bool)
    new_ctx[0] = True
    for c in ctx_s:
        new_ctx[1:] |= c[1:] != c[:-1]
    new_gram = new_ctx.copy()
    new_gram[1:] |= nxt_s[1:] != nxt_s[:-1]
    gram_start = np.flatnonzero(new_gram)
    gram_count = np.diff(np.append(gram_start, N))
    gram_ctx = np.cumsum(new_ctx)[gram_start] - 1          # context index of each n-gram
    ctx_start = np.flatnonzero(new_ctx)
    ctx_total = np.diff(np.append(ctx_start, N))
    ctx_tokens = np.stack([c[order[ctx_start]] for c in cols[:n - 1]], axis=1).astype(np.uint16)
    return {"gram_ctx": gram_ctx, "gram_tok": nxt_s[gram_start], "gram_count": gram_count,
            "ctx_total": ctx_total, "ctx_tokens": ctx_tokens}


def prune(st, n, min_ctx, top_k, min_count):
    gc, gt, gn = st["gram_ctx"], st["gram_tok"], st["gram_count"]
    o = np.lexsort((gt, -gn, gc))
    gc, gt, gn = gc[o], gt[o], gn[o]
    first = np.searchsorted(gc, gc)             # first index of each context (gc is sorted)
    rank = np.arange(len(gc)) - first
    keep = (rank < top_k) & (gn >= min_count) & (st["ctx_total"][gc] >= min_ctx)
    gc, gt, gn = gc[keep], gt[keep], gn[keep]
    ctx_ids, inv = np.unique(gc, return_inverse=True)
    offsets = np.zeros(len(ctx_ids) + 1, dtype=np.uint32)
    np.add.at(offsets, inv + 1, 1)
    offsets = np.cumsum(offsets).astype(np.uint32)
    totals = st["ctx_total"][ctx_ids]
    probs = np.rint(gn / totals[inv] * 65535).astype(np.uint16)
    return {"n": n, "contexts": st["ctx_tokens"][ctx_ids], "totals": totals.astype(np.uint32),
            "offsets": offsets, "tokens": gt.astype(np.uint16), "probs": probs}


def order_bytes(t):
    def al(x):
        return (x + 3) & ~3
    return (al(t["contexts"].nbytes) + al(t["totals"].nbytes) + al(t["offsets"].nbytes) + al(t["tokens"].nbytes)
            + al(t["probs"].nbytes))


def write_bin(path, tables, vocab_size):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(b"SDNG" + struct.pack("<III", 1, vocab_size, len(tables)) + b"\0" * 16)
        for t in tables:
            f.write(struct.pack("<IIII", t["n"], len(t["totals"]), len(t["tokens"]), 0))
        for t in tables:
            for name, dt in (("contexts", "<u2"), ("totals", "<u4"), ("offsets", "<u4"), ("tokens", "<u2"),
                             ("probs", "<u2")):
                a = np.ascontiguousarray(t[name], dtype=dt)
                f.write(a.tobytes())
                pad = (-a.nbytes) % 4
                f.write(b"\0" * pad)
    os.replace(tmp, path)


def read_bin(path):
    """Reader used for verification (mirrors the documented format)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"SDNG"
    version, vocab, k = struct.unpack_from("<III", data, 4)
    recs = [struct.unpack_from("<IIII", data, 32 + 16 * i) for i in range(k)]
    off = 32 + 16 * k
    tables = []
    for n, nc, ne, _ in recs:
        t = {"n": n}
        for name, dt, cnt in (("contexts", "<u2", nc * (n - 1)), ("totals", "<u4", nc), ("offsets", "<u4", nc + 1),
                              ("tokens", "<u2", ne), ("probs", "<u2", ne)):
            a = np.frombuffer(data, dtype=dt, count=cnt, offset=off)
            off += (a.nbytes + 3) & ~3
            t[name] = a
        t["contexts"] = t["contexts"].reshape(nc, n - 1)
        tables.append(t)
    assert off == len(data), "trailing bytes"
    return version, vocab, tables


def evaluate(tables, V):
    """Longest-context top-1 accuracy and coverage on held-out tokens, and per-order hit rates."""
    lookups = []
    for t in tables:
        keys = {tuple(row): i for i, row in enumerate(t["contexts"].tolist())}
        lookups.append((t["n"], keys, t))
    res = {"positions": 0, "by_order": {}}
    hit_any = correct_longest = 0
    per = {t["n"]: [0, 0] for t in tables}
    Vl = V.tolist()
    step = max(1, len(Vl) // 200000)
    for pos in range(6, len(Vl), step):
        res["positions"] += 1
        best = None
        for n, keys, t in lookups:
            c = keys.get(tuple(Vl[pos - n + 1:pos]))
            if c is None:
                continue
            a, b = int(t["offsets"][c]), int(t["offsets"][c + 1])
            top = int(t["tokens"][a])
            per[n][0] += 1
            per[n][1] += top == Vl[pos]
            if best is None or n > best[0]:
                best = (n, top)
        if best is not None:
            hit_any += 1
            correct_longest += best[1] == Vl[pos]
    P = max(1, res["positions"])
    res["coverage_any"] = round(hit_any / P, 4)
    res["top1_longest"] = round(correct_longest / P, 4)
    res["by_order"] = {str(n): {"coverage": round(h / P, 4), "top1_when_found": round(c / max(1, h), 4)}
                       for n, (h, c) in per.items()}
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", default="2,3,4,5,6")
    ap.add_argument("--budget-mb", type=float, default=18.0)
    ap.add_argument("--top-k", type=int, default=8)
    ap.add_argument("--out", default=os.path.join(WORK, "ngrams"))
    args = ap.parse_args()
    t0 = time.time()
    path = os.path.join(WORK, "tokens", "train.u16")
    if not os.path.isfile(path):
        sys.exit(f"ngrams: missing {path}; run the tokenizer stage first")
    T = np.fromfile(path, dtype=np.uint16)
    Vv = np.fromfile(os.path.join(WORK, "tokens", "val.u16"), dtype=np.uint16)
    with open(os.path.join(WORK, "tokens", "stats.json")) as f:
        vocab = json.load(f)["vocab_size"]
    orders = [int(x) for x in args.orders.split(",")]
    per_budget = args.budget_mb * 1e6 / len(orders)
    tables = []
    info = {}
    for n in orders:
        st = count_order(T, n)
        for min_ctx in (2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256, 512):
            t = prune(st, n, min_ctx, args.top_k, 2)
            if order_bytes(t) <= per_budget:
                break
        tables.append(t)
        info[n] = {"min_ctx": min_ctx, "contexts": int(len(t["totals"])), "entries": int(len(t["tokens"])),
                   "bytes": order_bytes(t), "distinct_contexts_unpruned": int(len(st["ctx_total"]))}
        print(f"ngrams: order {n}: {info[n]} ({time.time()-t0:.0f}s)", flush=True)
        del st
    os.makedirs(args.out, exist_ok=True)
    out = os.path.join(args.out, "ngrams.bin")
    write_bin(out, tables, vocab)
    version, v2, back = read_bin(out)
    assert version == 1 and v2 == vocab and [t["n"] for t in back] == orders
    for t in back:
        c = t["contexts"]
        if len(c) > 1:
            # rows strictly ascending lexicographically
            diff = c[1:].astype(np.int32) - c[:-1].astype(np.int32)
            nz = np.argmax(diff != 0, axis=1)
            assert (diff[np.arange(len(diff)), nz] > 0).all(), "contexts not sorted"
    ev = evaluate(back, Vv)
    stats = {"orders": info, "file_bytes": os.path.getsize(out), "top_k": args.top_k, "val": ev,
             "seconds": round(time.time() - t0, 1)}
    with open(os.path.join(args.out, "stats.json"), "w") as f:
        json.dump(stats, f, indent=1)
    print(f"ngrams: {out} {os.path.getsize(out)/1e6:.2f} MB; val {ev}; {time.time()-t0:.0f}s")


if __name__ == "__main__":
    main()
