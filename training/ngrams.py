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


def count_order(T, n, rank3=None):
    """Exact counts of all n-grams as sorted unique uint64 keys. Keys are order-preserving: tokens packed 13 bits
    each for n <= 4; for n = 5, 6 the first three tokens are replaced by the rank of their 3-gram among the sorted
    distinct 3-grams (rank3), so one integer sort gives lexicographic order."""
    N = len(T) - n + 1
    t = [T[i:i + N].astype(np.uint64) for i in range(n)]
    B = np.uint64(BITS)
    if n <= 4:
        key = np.zeros(N, dtype=np.uint64)
        for c in t:
            key = (key << B) | c
    else:
        r3_vals, r3 = rank3
        key = r3[:N].astype(np.uint64)
        for c in t[3:]:
            key = (key << B) | c
    uniq, counts = np.unique(key, return_counts=True)
    return uniq, counts


def rank3_of(T):
    N = len(T) - 2
    B = np.uint64(BITS)
    k = (T[:N].astype(np.uint64) << (B * np.uint64(2))) | (T[1:N + 1].astype(np.uint64) << B) | T[2:N + 2].astype(np.uint64)
    vals, inv = np.unique(k, return_inverse=True)
    assert len(vals) < (1 << 24), "too many distinct 3-grams for the 64-bit key"
    return vals, inv.astype(np.uint32)


def decode_ctx(ctx_keys, n, rank3):
    """Context keys (n-gram key >> 13) -> token matrix [num_contexts, n-1]."""
    m = n - 1
    mask = np.uint64((1 << BITS) - 1)
    out = np.zeros((len(ctx_keys), m), dtype=np.uint16)
    k = ctx_keys.copy()
    if n <= 4:
        for j in range(m - 1, -1, -1):
            out[:, j] = (k & mask).astype(np.uint16)
            k = k >> np.uint64(BITS)
    else:
        for j in range(m - 1, 2, -1):
            out[:, j] = (k & mask).astype(np.uint16)
            k = k >> np.uint64(BITS)
        tri = rank3[0][k.astype(np.int64)]
        for j in (2, 1, 0):
            out[:, j] = (tri & mask).astype(np.uint16)
            tri = tri >> np.uint64(BITS)
    return out


class OrderTable:
    def __init__(self, uniq, counts, n, top_k, min_count):
        ctx_key = uniq >> np.uint64(BITS)
        tok = (uniq & np.uint64((1 << BITS) - 1)).astype(np.int64)
        new_ctx = np.ones(len(uniq), dtype=bool)
        new_ctx[1:] = ctx_key[1:] != ctx_key[:-1]
        ctx_start = np.flatnonzero(new_ctx)
        ctx_of = np.cumsum(new_ctx) - 1
        self.ctx_total = np.add.reduceat(counts, ctx_start)
        self.ctx_keys = ctx_key[ctx_start]
        self.distinct_contexts = len(ctx_start)
        sel = counts >= min_count                      # successors seen once are never kept
        gc, gt, gn = ctx_of[sel], tok[sel], counts[sel]
        o = np.lexsort((gt, -gn, gc))                  # by context, then count descending, then token id
        gc, gt, gn = gc[o], gt[o], gn[o]
        first = np.searchsorted(gc, gc)
        rank = np.arange(len(gc)) - first
        k = rank < top_k
        self.gc, self.gt, self.gn = gc[k], gt[k], gn[k]
        self.n = n

    def size(self, min_ctx):
        keep = self.ctx_total[self.gc] >= min_ctx
        ne = int(keep.sum())
        nc = len(np.unique(self.gc[keep]))
        al = lambda x: (x + 3) & ~3  # noqa: E731
        return al(nc * (self.n - 1) * 2) + 2 * al(nc * 4) + 4 + 2 * al(ne * 2)

    def table(self, min_ctx, rank3):
        keep = self.ctx_total[self.gc] >= min_ctx
        gc, gt, gn = self.gc[keep], self.gt[keep], self.gn[keep]
        ctx_ids, inv = np.unique(gc, return_inverse=True)
        offsets = np.zeros(len(ctx_ids) + 1, dtype=np.int64)
        np.add.at(offsets, inv + 1, 1)
        offsets = np.cumsum(offsets).astype(np.uint32)
        totals = self.ctx_total[ctx_ids]
        probs = np.rint(gn / totals[inv] * 65535).astype(np.uint16)
        return {"n": self.n, "contexts": decode_ctx(self.ctx_keys[ctx_ids], self.n, rank3),
                "totals": totals.astype(np.uint32), "offsets": offsets, "tokens": gt.astype(np.uint16),
                "probs": probs}


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
    budget = args.budget_mb * 1e6
    tables = []
    info = {}
    rank3 = rank3_of(T) if max(orders) >= 5 else None
    for idx, n in enumerate(orders):
        uniq, counts = count_order(T, n, rank3)
        ot = OrderTable(uniq, counts, n, args.top_k, 2)
        del uniq, counts
        share = budget / (len(orders) - idx)          # unused budget of lower orders carries forward
        for min_ctx in (2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 1024):
            if ot.size(min_ctx) <= share:
                break
        t = ot.table(min_ctx, rank3)
        budget -= order_bytes(t)
        tables.append(t)
        info[n] = {"min_ctx": min_ctx, "contexts": int(len(t["totals"])), "entries": int(len(t["tokens"])),
                   "bytes": order_bytes(t), "distinct_contexts_unpruned": int(ot.distinct_contexts)}
        print(f"ngrams: order {n}: {info[n]} ({time.time()-t0:.0f}s)", flush=True)
        del ot
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
