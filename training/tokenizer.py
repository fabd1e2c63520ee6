"""Stage 2: train the byte-level BPE tokenizer on the training split and encode the whole corpus.

Outputs in work/tokenizer/: merges.json, tokenizer.json, tokenizer_config.json, stats.json;
work/tokens/{train,val}.u16 (all files' ids, each file followed by <|endoftext|>) and {train,val}.idx.json
(per file: offset, length, path, pkg, lang).
"""
import json
import os
import random
import sys
import time
from collections import Counter

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.environ.get("SD_WORK", os.path.join(HERE, "work"))
VOCAB_SIZE = int(os.environ.get("SD_VOCAB", "8192"))
SAMPLE_BYTES = float(os.environ.get("SD_TOK_SAMPLE_MB", "30")) * 1e6


def load_corpus():
    path = os.path.join(WORK, "corpus", "files.jsonl")
    if not os.path.isfile(path):
        sys.exit(f"tokenizer: missing {path}; run the corpus stage first")
    with open(path) as f:
        for line in f:
            yield json.loads(line)


def write_json_atomic(obj, path, **kw):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, **kw)
    os.replace(tmp, path)


def merges_from_hf(path):
    """The merges (id pairs) of a tokenizer.json this pipeline wrote (the shipped model's), checked to round-trip:
    continuing a model's training needs its own tokenizer, not one retrained on a changed corpus."""
    with open(path) as f:
        hf = json.load(f)
    vocab = hf["model"]["vocab"]
    merges = []
    for m in hf["model"]["merges"]:
        a, b = m.split(" ") if isinstance(m, str) else m
        merges.append((vocab[a], vocab[b]))
    tok = bpe.Tokenizer(merges)
    if tok.to_hf_json()["model"]["vocab"] != vocab:
        raise SystemExit(f"tokenizer: {path} is not a byte-level BPE of this pipeline (its vocabulary does not round-trip)")
    return merges


def main():
    t0 = time.time()
    out = os.path.join(WORK, "tokenizer")
    os.makedirs(out, exist_ok=True)
    files = list(load_corpus())
    if len(sys.argv) > 2 and sys.argv[1] == "--from":
        merges = merges_from_hf(sys.argv[2])
        print(f"tokenizer: {len(merges)} merges from {sys.argv[2]} (no training)")
    else:
        train = [f for f in files if f["split"] == "train"]
        total = sum(len(f["text"]) for f in train)
        rng = random.Random(1234)
        p = min(1.0, SAMPLE_BYTES / max(1, total))
        counts = Counter()
        sampled = 0
        for f in train:
            if rng.random() < p:
                counts.update(bpe.pretokenize(f["text"]))
                sampled += len(f["text"])
        print(f"tokenizer: {len(counts)} distinct pre-tokens from {sampled/1e6:.1f} MB sample "
              f"({time.time()-t0:.0f}s)")
        merges = bpe.train_bpe(counts, VOCAB_SIZE)
    tok = bpe.Tokenizer(merges)
    tok.save(os.path.join(out, "merges.json"))
    write_json_atomic(tok.to_hf_json(), os.path.join(out, "tokenizer.json"), ensure_ascii=False)
    write_json_atomic(bpe.tokenizer_config(), os.path.join(out, "tokenizer_config.json"), indent=2)
    t1 = time.time()
    print(f"tokenizer: {len(merges)} merges ready in {t1-t0:.0f}s")

    # encode the corpus
    tokdir = os.path.join(WORK, "tokens")
    os.makedirs(tokdir, exist_ok=True)
    stats = {"vocab_size": tok.vocab_size, "train_seconds": round(t1 - t0, 1), "by_lang": {}, "by_split": {}}
    for split in ("train", "val"):
        arrs = []
        index = []
        off = 0
        for f in files:
            if f["split"] != split:
                continue
            ids = tok.encode(f["text"])
            ids.append(0)
            arrs.append(np.asarray(ids, dtype=np.uint16))
            index.append({"off": off, "len": len(ids), "path": f["path"], "pkg": f["pkg"], "lang": f["lang"]})
            off += len(ids)
            s = stats["by_lang"].setdefault(f["lang"], {"files": 0, "bytes": 0, "tokens": 0})
            s["files"] += 1
            s["bytes"] += len(f["text"].encode())
            s["tokens"] += len(ids)
        data = np.concatenate(arrs) if arrs else np.zeros(0, np.uint16)
        tmp = os.path.join(tokdir, split + ".u16.tmp")
        data.tofile(tmp)
        os.replace(tmp, os.path.join(tokdir, split + ".u16"))
        write_json_atomic(index, os.path.join(tokdir, split + ".idx.json"))
        stats["by_split"][split] = {"files": len(index), "tokens": int(off),
                                    "bytes": int(sum(len(f["text"].encode()) for f in files if f["split"] == split))}
        print(f"tokenizer: {split}: {len(index)} files, {off/1e6:.2f}M tokens")
    b = sum(v["bytes"] for v in stats["by_split"].values())
    t = sum(v["tokens"] for v in stats["by_split"].values())
    stats["bytes_per_token"] = round(b / t, 3)
    stats["encode_seconds"] = round(time.time() - t1, 1)
    write_json_atomic(stats, os.path.join(tokdir, "stats.json"), indent=1)
    print(f"tokenizer: {b/t:.2f} bytes/token; encoded in {time.time()-t1:.0f}s")


if __name__ == "__main__":
    main()
