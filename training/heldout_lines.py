"""Rest-of-line completion cases from the corpus's held-out files (split "val": never trained on), in the format of
`superdraft eval --cases` ({id, language, path, prefix, suffix, expected}). For engine decisions that need more cases
than the 300 shared dev cases (e.g. whether superposed decoding's verification pass pays for itself).

Usage: python3 training/heldout_lines.py [count] [--boundary] > cases.jsonl   (needs work/corpus/files.jsonl: stage "corpus")

The cursor is at a random character of the line's text (most fall inside a word, as while typing), or with
--boundary never inside a word: between two characters that are not both identifier characters, the placement of
line-completion benchmarks (the shared dev set's cursors all sit at such boundaries).
"""
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.environ.get("SD_WORK", os.path.join(HERE, "work"))
LANGS = {"typescript", "javascript", "python", "c", "cpp"}


def is_word(ch):
    return ch.isalnum() or ch == "_"


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    boundary = "--boundary" in sys.argv[1:]
    count = int(args[0]) if args else 1000
    rng = random.Random(20261201 if boundary else 20261124)
    files = []
    with open(os.path.join(WORK, "corpus", "files.jsonl")) as f:
        for line in f:
            d = json.loads(line)
            if d.get("split") == "val" and d.get("lang") in LANGS:
                files.append(d)
    if not files:
        sys.exit("heldout_lines: no held-out files in work/corpus/files.jsonl; run the corpus stage")
    out = 0
    per_file = max(1, count // len(files) + 1)
    rng.shuffle(files)
    while out < count:
        for d in files:
            text = d["text"]
            starts = [0]
            for i, ch in enumerate(text):
                if ch == "\n":
                    starts.append(i + 1)
            lines = [(s, text.find("\n", s) if text.find("\n", s) >= 0 else len(text)) for s in starts]
            # lines with some code on them, after the file's first few lines (a prefix to condition on)
            cand = [(s, e) for (s, e) in lines[5:] if len(text[s:e].strip()) >= 12]
            for _ in range(per_file):
                if not cand or out >= count:
                    break
                s, e = rng.choice(cand)
                body = text[s:e]
                indent = len(body) - len(body.lstrip())
                lo, hi = s + indent + 2, e - 3
                if hi <= lo:
                    continue
                if boundary:
                    cuts = [i for i in range(lo, hi + 1) if not (is_word(text[i - 1]) and is_word(text[i]))]
                    if not cuts:
                        continue
                    cur = rng.choice(cuts)
                else:
                    cur = rng.randint(lo, hi)
                expected = text[cur:e].rstrip()
                if not expected.strip():
                    continue
                case = {"id": f"{d['path']}:{cur}", "language": d["lang"], "path": d["path"],
                        "prefix": text[max(0, cur - 6000):cur], "suffix": text[e:e + 3000], "expected": expected}
                print(json.dumps(case))
                out += 1
            if out >= count:
                break


if __name__ == "__main__":
    main()
