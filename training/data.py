"""Training/validation samples: left-to-right and fill-in-the-middle (SPM) documents, packed into sequences.

Every document starts with `<|file_sep|>{path}\\n`. Some documents first show another file of the same package
(`<|file_sep|>{other}\\n{text}<|file_sep|>{path}\\n...`), as the engine does with context from open files.
FIM documents use the SPM layout of models/default/config.json:
  <|file_sep|>{path}\\n<|fim_prefix|><|fim_suffix|>{suffix}<|fim_middle|>{prefix}{middle}<|endoftext|>
with split points at character positions (not token boundaries), each part tokenized on its own as the engine does.
"""
import json
import os
import random

import numpy as np

import bpe

EOS, FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE, FIM_PAD, FILE_SEP = range(6)


class Corpus:
    def __init__(self, work, split, tok, load_text=True):
        idx_path = os.path.join(work, "tokens", split + ".idx.json")
        bin_path = os.path.join(work, "tokens", split + ".u16")
        for p in (idx_path, bin_path):
            if not os.path.isfile(p):
                raise SystemExit(f"missing {p}; run the tokenizer stage first")
        with open(idx_path) as f:
            self.index = json.load(f)
        self.tokens = np.fromfile(bin_path, dtype=np.uint16)
        self.tok = tok
        self.texts = None
        if load_text:
            self.texts = []
            with open(os.path.join(work, "corpus", "files.jsonl")) as f:
                for line in f:
                    d = json.loads(line)
                    if d["split"] == split:
                        self.texts.append(d["text"])
            if len(self.texts) != len(self.index):
                raise SystemExit("corpus and token index disagree; rerun the tokenizer stage")
        self.by_pkg = {}
        for i, e in enumerate(self.index):
            self.by_pkg.setdefault(e["pkg"], []).append(i)
        lens = np.array([e["len"] for e in self.index], dtype=np.float64)
        w = np.minimum(lens, 8192.0)
        self.p = w / w.sum()
        self.header_cache = {}

    def header(self, i):
        h = self.header_cache.get(i)
        if h is None:
            h = [FILE_SEP] + self.tok.encode(self.index[i]["path"] + "\n")
            self.header_cache[i] = h
        return h

    def file_tokens(self, i):
        e = self.index[i]
        return self.tokens[e["off"]:e["off"] + e["len"] - 1]  # without the trailing <|endoftext|>


def fim_split(text, rng):
    """Choose (prefix, middle, suffix) at character positions. Mostly the shapes completion sees: the rest of a
    line, a few lines, plus uniformly random spans."""
    n = len(text)
    if n < 4:
        return None
    r = rng.random()
    c = rng.randrange(0, n)
    if r < 0.45:            # rest of the current line
        e = text.find("\n", c)
        e = n if e < 0 else e
    elif r < 0.8:           # through the end of 1..6 more lines
        e = c
        for _ in range(rng.randint(1, 6)):
            j = text.find("\n", e + 1)
            if j < 0:
                e = n
                break
            e = j
    else:                   # uniform span
        a, b = sorted((rng.randrange(0, n + 1), rng.randrange(0, n + 1)))
        c, e = a, b
    return text[:c], text[c:e], text[e:]


class Sampler:
    def __init__(self, corpus: Corpus, seed, fim_rate=0.6, ctx_rate=0.15):
        self.c = corpus
        self.rng = random.Random(seed)
        self.nprng = np.random.default_rng(seed)
        self.fim_rate = fim_rate
        self.ctx_rate = ctx_rate

    def pick(self):
        return int(self.nprng.choice(len(self.c.index), p=self.c.p))

    def l2r_doc(self, i, budget, header):
        toks = self.c.file_tokens(i)
        room = budget - len(header)
        if room <= 8:
            return None
        if len(toks) + 1 <= room:
            return header + toks.tolist() + [EOS]
        start = 0 if self.rng.random() < 0.25 else self.rng.randrange(0, len(toks) - room + 1)
        return header + toks[start:start + room].tolist()

    def fim_doc(self, i, budget, header):
        text = self.c.texts[i]
        room = budget - len(header) - 4
        if room <= 32:
            return None
        # choose a character window that will roughly fit the budget (3.5 bytes/token on average)
        max_chars = int(room * 3.2)
        if len(text) > max_chars:
            s = self.rng.randrange(0, len(text) - max_chars + 1)
            # snap the window start to a line start so prefixes look like what editors send
            nl = text.find("\n", s)
            if 0 <= nl < s + 200:
                s = nl + 1
            text = text[s:s + max_chars]
        parts = fim_split(text, self.rng)
        if parts is None:
            return None
        prefix, middle, suffix = parts
        enc = self.c.tok.encode
        m = enc(middle)
        p = enc(prefix)
        s_ = enc(suffix)
        if len(m) > room // 2:
            m = m[:room // 2]
            tail = []
        else:
            tail = [EOS]
        left = room - len(m) - len(tail)
        # keep the end of the prefix and the start of the suffix (what the engine keeps when truncating)
        keep_p = min(len(p), max(left - min(len(s_), left // 3), left // 2))
        p = p[len(p) - keep_p:] if keep_p > 0 else []
        s_ = s_[:max(0, left - len(p))]
        return header + [FIM_PREFIX, FIM_SUFFIX] + s_ + [FIM_MIDDLE] + p + m + tail

    def doc(self, budget):
        for _ in range(10):
            i = self.pick()
            header = self.c.header(i)
            ctx = []
            if self.rng.random() < self.ctx_rate:
                sib = self.c.by_pkg[self.c.index[i]["pkg"]]
                if len(sib) > 1:
                    j = sib[self.rng.randrange(len(sib))]
                    if j != i:
                        ctx_budget = budget // 3
                        hj = self.c.header(j)
                        tj = self.c.file_tokens(j)[:max(0, ctx_budget - len(hj))].tolist()
                        if tj:
                            ctx = hj + tj
            b = budget - len(ctx)
            d = self.fim_doc(i, b, header) if self.rng.random() < self.fim_rate else self.l2r_doc(i, b, header)
            if d is not None:
                return ctx + d
        return None

    def sequence(self, length):
        """A packed sequence of exactly length+1 tokens; each document begins with <|file_sep|>."""
        out = []
        while len(out) < length + 1:
            d = self.doc(length + 1 - len(out))
            if d is None:
                break
            out.extend(d)
        if len(out) < length + 1:
            out.extend([EOS] * (length + 1 - len(out)))
        return out[:length + 1]

    def batch(self, bsz, length):
        return np.array([self.sequence(length) for _ in range(bsz)], dtype=np.int64)


def val_sets(corpus: Corpus, length, n_l2r, n_fim, seed=7):
    """Fixed validation sequences: left-to-right windows (loss on all body tokens) and rest-of-line FIM documents
    (loss on the middle and its <|endoftext|>). Returns lists of (ids, loss_mask)."""
    rng = random.Random(seed)
    l2r = []
    order = list(range(len(corpus.index)))
    rng.shuffle(order)
    for i in order:
        h = corpus.header(i)
        toks = corpus.file_tokens(i).tolist()
        room = length + 1 - len(h)
        for s in range(0, max(1, len(toks)), room):
            body = toks[s:s + room]
            if len(body) < 64:
                break
            ids = h + body
            mask = [0] * len(h) + [1] * len(body)
            l2r.append((ids, mask))
            if len(l2r) >= n_l2r:
                break
            if s >= 2 * room:
                break
        if len(l2r) >= n_l2r:
            break
    fim = []
    for i in order:
        text = corpus.texts[i] if corpus.texts else None
        if not text or len(text) < 200:
            continue
        h = corpus.header(i)
        start = rng.randrange(0, max(1, len(text) - 2000))
        nl = text.find("\n", start)
        start = nl + 1 if 0 <= nl < start + 200 else start
        win = text[start:start + 2000]
        lines = [k for k, ch in enumerate(win) if ch == "\n"]
        if len(lines) < 4:
            continue
        ln = lines[rng.randrange(1, len(lines) - 1)]
        prev = win.rfind("\n", 0, ln)
        c = rng.randrange(prev + 1, ln + 1)
        prefix, middle, suffix = win[:c], win[c:ln], win[ln:]
        enc = corpus.tok.encode
        p, m, s_ = enc(prefix), enc(middle) + [EOS], enc(suffix)
        room = length + 1 - len(h) - 3 - len(m)
        p = p[-(room * 2 // 3):]
        s_ = s_[:room - len(p)]
        ids = h + [FIM_PREFIX, FIM_SUFFIX] + s_ + [FIM_MIDDLE] + p + m
        mask = [0] * (len(ids) - len(m)) + [1] * len(m)
        fim.append((ids, mask))
        if len(fim) >= n_fim:
            break
    return l2r, fim
