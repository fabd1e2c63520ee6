"""Byte-level BPE: training, encoding and export as a Hugging Face tokenizer.json.

The pre-tokenizer regex and the merge order are the same as the JS `@huggingface/tokenizers` implementation
uses when it loads the exported tokenizer.json (Split(Regex, Isolated) followed by ByteLevel without regex;
merges applied lowest rank first, leftmost first on ties), so Python and Node produce the same ids.
"""
import heapq
import json
import re as _re
from collections import Counter, defaultdict

import regex

from bytelevel import bytes_to_unicode

SPECIAL_TOKENS = ["<|endoftext|>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|fim_pad|>",
                  "<|file_sep|>"]
N_SPECIAL = len(SPECIAL_TOKENS)
BYTE_BASE = N_SPECIAL          # ids N_SPECIAL .. N_SPECIAL+255 are the 256 bytes
MERGE_BASE = N_SPECIAL + 256

# Code-oriented split: words keep one leading non-letter (space, dot, underscore...), numbers in groups of up to
# three digits, punctuation runs keep trailing newlines, newline runs keep preceding spaces, and runs of spaces or
# tabs stay together (indentation) except the last one, which joins the following word.
PRETOKENIZE_PATTERN = (r"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_PRE = regex.compile(PRETOKENIZE_PATTERN)
_SPECIAL_SPLIT = _re.compile("(" + "|".join(_re.escape(t) for t in SPECIAL_TOKENS) + ")")


BYTE_TO_CHAR = bytes_to_unicode()


def pretokenize(text):
    return _PRE.findall(text)


def train_bpe(word_counts, vocab_size, log=print):
    """word_counts: Counter of pre-token strings. Returns list of merges as (left_id, right_id) in rank order."""
    n_merges = vocab_size - MERGE_BASE
    words = []
    freqs = []
    for w, c in word_counts.items():
        ids = [BYTE_BASE + b for b in w.encode("utf-8")]
        if len(ids) > 1:
            words.append(ids)
            freqs.append(c)
    pair_count = defaultdict(int)
    where = defaultdict(set)
    for wi, ids in enumerate(words):
        f = freqs[wi]
        for a, b in zip(ids, ids[1:]):
            pair_count[(a, b)] += f
            where[(a, b)].add(wi)
    heap = [(-c, p) for p, c in pair_count.items()]
    heapq.heapify(heap)
    merges = []
    while len(merges) < n_merges and heap:
        negc, pair = heapq.heappop(heap)
        c = pair_count.get(pair, 0)
        if c <= 0:
            continue
        if -negc != c:
            heapq.heappush(heap, (-c, pair))
            continue
        new_id = MERGE_BASE + len(merges)
        merges.append(pair)
        a, b = pair
        touched = set()
        for wi in list(where.get(pair, ())):
            ids = words[wi]
            f = freqs[wi]
            # remove old pairs of this word
            for p in zip(ids, ids[1:]):
                pair_count[p] -= f
                touched.add(p)
            out = []
            i = 0
            n = len(ids)
            while i < n:
                if i + 1 < n and ids[i] == a and ids[i + 1] == b:
                    out.append(new_id)
                    i += 2
                else:
                    out.append(ids[i])
                    i += 1
            for p in set(zip(ids, ids[1:])):
                s = where.get(p)
                if s is not None:
                    s.discard(wi)
            words[wi] = out
            for p in zip(out, out[1:]):
                pair_count[p] += f
                where[p].add(wi)
                touched.add(p)
        pair_count.pop(pair, None)
        where.pop(pair, None)
        for p in touched:
            c2 = pair_count.get(p, 0)
            if c2 > 0:
                heapq.heappush(heap, (-c2, p))
            elif p in pair_count:
                del pair_count[p]
        if len(merges) % 1000 == 0:
            log(f"  merges {len(merges)}/{n_merges} (last count {c})")
    return merges


class Tokenizer:
    def __init__(self, merges):
        self.merges = [tuple(m) for m in merges]
        self.ranks = {m: i for i, m in enumerate(self.merges)}
        self.vocab_size = MERGE_BASE + len(self.merges)
        self.token_bytes = [t.encode() for t in SPECIAL_TOKENS] + [bytes([b]) for b in range(256)]
        for a, b in self.merges:
            self.token_bytes.append(self.token_bytes[a] + self.token_bytes[b])
        self.special_ids = {t: i for i, t in enumerate(SPECIAL_TOKENS)}
        self.cache = {}

    @classmethod
    def load(cls, path):
        with open(path) as f:
            d = json.load(f)
        return cls(d["merges"])

    def save(self, path):
        with open(path, "w") as f:
            json.dump({"merges": [list(m) for m in self.merges]}, f)

    def _bpe(self, word):
        ids = self.cache.get(word)
        if ids is not None:
            return ids
        ids = [BYTE_BASE + b for b in word.encode("utf-8")]
        ranks = self.ranks
        while len(ids) > 1:
            best = None
            best_i = -1
            for i in range(len(ids) - 1):
                r = ranks.get((ids[i], ids[i + 1]))
                if r is not None and (best is None or r < best):
                    best = r
                    best_i = i
            if best is None:
                break
            ids[best_i:best_i + 2] = [MERGE_BASE + best]
        if len(self.cache) < 2_000_000:
            self.cache[word] = ids
        return ids

    def encode(self, text):
        out = []
        for part in _SPECIAL_SPLIT.split(text):
            if not part:
                continue
            sid = self.special_ids.get(part)
            if sid is not None:
                out.append(sid)
                continue
            for w in _PRE.findall(part):
                out.extend(self._bpe(w))
        return out

    def decode(self, ids):
        return b"".join(self.token_bytes[i] for i in ids).decode("utf-8", errors="replace")

    def token_str(self, i):
        if i < N_SPECIAL:
            return SPECIAL_TOKENS[i]
        return "".join(BYTE_TO_CHAR[b] for b in self.token_bytes[i])

    def to_hf_json(self):
        vocab = {self.token_str(i): i for i in range(N_SPECIAL, self.vocab_size)}
        assert len(vocab) == self.vocab_size - N_SPECIAL, "duplicate token strings"
        merges = [self.token_str(a) + " " + self.token_str(b) for a, b in self.merges]
        bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                              "normalized": False, "special": True} for i, t in enumerate(SPECIAL_TOKENS)],
            "normalizer": None,
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": PRETOKENIZE_PATTERN}, "behavior": "Isolated",
                 "invert": False},
                dict(bl)]},
            "post_processor": dict(bl),
            "decoder": dict(bl),
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                      "ignore_merges": False, "vocab": vocab, "merges": merges},
        }


def tokenizer_config():
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": None,
        "eos_token": "<|endoftext|>",
        "pad_token": "<|fim_pad|>",
        "unk_token": None,
        "add_bos_token": False,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": 1024,
        "additional_special_tokens": SPECIAL_TOKENS[1:],
    }
