"""GPT-2's byte-level alphabet: every byte as a printable character (shared by the tokenizer trainer and the replica
generator, which must write tokenizer.json vocabularies in the same spelling)."""


def bytes_to_unicode():
    """{byte: character}: printable Latin-1 bytes map to themselves, the rest to characters from U+0100 on."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))
