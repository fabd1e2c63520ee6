/** The dynamic half of the n-gram store (ngram.ts): counts built from token sequences, in typed-array hash tables. */

/**
 * Dynamic n-gram counts in two open-addressing hash tables over typed arrays (no per-context objects, no GC churn):
 *  - contexts: exact packed key (up to 5 tokens of 16 bits + length in three int32 words; for vocabularies over
 *    65536 ids, two 32-bit hashes + the length), occurrence total, and the most frequent successor seen (for drafting;
 *    after removals it may be stale until that successor's count reaches 0, then it is cleared);
 *  - pairs: (context slot, successor) -> count.
 * Deleted entries leave tombstones; the tables are rebuilt (and grown when needed) as they fill.
 */
export class DynamicCounts {
  // Contexts: 6 int32 per slot (interleaved, so a probe touches one or two cache lines):
  //   [k0, k1, k2 (0 = empty; else length*65536 + last word), total (0 with k2 != 0 = tombstone), best, bestN]
  // Pairs: 3 int32 per slot: [context slot + 1 (0 = empty), token, count (0 = tombstone)]
  // Tables are rebuilt when live + tombstones pass 70 % of the slots, to twice the live entries.
  private cap = 0;
  private c = new Int32Array(0);
  private used = 0; // live + tombstones
  live = 0;
  private pcap = 0;
  private p = new Int32Array(0);
  private pUsed = 0;
  private pLive = 0;
  // packed key of the context being looked up
  private q0 = 0;
  private q1 = 0;
  private q2 = 0;

  constructor(private readonly exact: boolean) {
    this.resize(1 << 12, 1 << 13);
  }

  /** Packs the context of length j ending before seq[end] (most recent token first) into q0..q2. */
  setKey(seq: ArrayLike<number>, end: number, j: number): void {
    if (this.exact) {
      const t1 = seq[end - 1];
      const t2 = j >= 2 ? seq[end - 2] : 0;
      const t3 = j >= 3 ? seq[end - 3] : 0;
      const t4 = j >= 4 ? seq[end - 4] : 0;
      const t5 = j >= 5 ? seq[end - 5] : 0;
      this.q0 = t1 | (t2 << 16);
      this.q1 = t3 | (t4 << 16);
      this.q2 = t5 + j * 65536;
    } else {
      let h1 = 0x9e3779b9 | 0;
      let h2 = 0x85ebca6b | 0;
      for (let i = 1; i <= j; i++) {
        const x = seq[end - i];
        h1 = Math.imul(h1 ^ x, 0x01000193);
        h1 ^= h1 >>> 15;
        h2 = Math.imul(h2 + x + i, 0x5bd1e995);
        h2 ^= h2 >>> 13;
      }
      this.q0 = h1;
      this.q1 = h2;
      this.q2 = (seq[end - 1] & 0xffff) + j * 65536;
    }
  }

  private static fmix(x: number): number {
    let h = x ^ (x >>> 16);
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return h ^ (h >>> 16);
  }

  /** Maps a 32-bit hash onto [0, n) (multiply-shift range reduction; n need not be a power of two). */
  private static range(h: number, n: number): number {
    return Math.floor(h * 2.3283064365386963e-10 * n);
  }

  private static hashKey(a: number, b: number, c: number): number {
    return DynamicCounts.fmix(a ^ DynamicCounts.fmix(b ^ DynamicCounts.fmix(c ^ 0x27d4eb2d))) >>> 0;
  }

  private static hashPair(slot: number, tok: number): number {
    return DynamicCounts.fmix(Math.imul(slot, 0x9e3779b1) ^ DynamicCounts.fmix(tok ^ 0x165667b1)) >>> 0;
  }

  /** The slot holding the context q0..q2, or the empty slot where it would go (linear probing). */
  private probe(): number {
    const cap = this.cap;
    const c = this.c;
    const q0 = this.q0;
    const q1 = this.q1;
    const q2 = this.q2;
    let i = DynamicCounts.range(DynamicCounts.hashKey(q0, q1, q2), cap);
    for (;;) {
      const b = i * 6;
      const k2 = c[b + 2];
      if (k2 === 0 || (k2 === q2 && c[b] === q0 && c[b + 1] === q1)) return i;
      if (++i === cap) i = 0;
    }
  }

  /** Slot of the context in q0..q2 with a positive total, or -1. */
  find(): number {
    const i = this.probe();
    const b = i * 6;
    return this.c[b + 2] !== 0 && this.c[b + 3] > 0 ? i : -1;
  }

  /** Slot of the context in q0..q2, inserting it (total 0) if absent. */
  private findOrInsert(): number {
    const i = this.probe();
    const c = this.c;
    if (c[i * 6 + 2] !== 0) return i;
    const q0 = this.q0;
    const q1 = this.q1;
    const q2 = this.q2;
    // A tombstone with the same key would have matched above, so the key is new: take the empty slot.
    const b = i * 6;
    c[b] = q0;
    c[b + 1] = q1;
    c[b + 2] = q2;
    c[b + 3] = 0;
    c[b + 4] = -1;
    c[b + 5] = 0;
    this.used++;
    return i;
  }

  /** Index (in int32 units) of the pair (slot, tok) in this.p, or of the empty slot where it would go. */
  private pairAt(slot: number, tok: number): number {
    const pcap = this.pcap;
    const p = this.p;
    const s1 = slot + 1;
    let i = DynamicCounts.range(DynamicCounts.hashPair(slot, tok), pcap);
    for (;;) {
      const b = i * 3;
      const c = p[b];
      if (c === 0 || (c === s1 && p[b + 1] === tok)) return b;
      if (++i === pcap) i = 0;
    }
  }

  count(slot: number, tok: number): number {
    const b = this.pairAt(slot, tok);
    return this.p[b] === 0 ? 0 : this.p[b + 2];
  }

  total(slot: number): number {
    return this.c[(slot * 6) + 3];
  }
  bestOf(slot: number): number {
    return this.c[(slot * 6) + 4];
  }
  bestCount(slot: number): number {
    return this.c[(slot * 6) + 5];
  }

  /** Adds (+1) or removes (-1) one occurrence of successor `tok` after the context in q0..q2. */
  update(tok: number, sign: 1 | -1): void {
    if (sign > 0 && ((this.used + 1) * 10 > this.cap * 7 || (this.pUsed + 1) * 10 > this.pcap * 7)) {
      const q0 = this.q0; // rehash() uses the query registers
      const q1 = this.q1;
      const q2 = this.q2;
      this.rehash();
      this.q0 = q0;
      this.q1 = q1;
      this.q2 = q2;
    }
    const slot = sign > 0 ? this.findOrInsert() : this.find();
    if (slot < 0) return; // removing something never added: nothing to do
    const p = this.p;
    const c = this.c;
    const cb = slot * 6;
    const b = this.pairAt(slot, tok);
    if (p[b] === 0) {
      if (sign < 0) return;
      p[b] = slot + 1;
      p[b + 1] = tok;
      p[b + 2] = 0;
      this.pUsed++;
    }
    const before = p[b + 2];
    if (sign > 0) {
      if (before === 0) this.pLive++;
      if (c[cb + 3] === 0) this.live++;
      const n = before + 1;
      p[b + 2] = n;
      c[cb + 3]++;
      if (n > c[cb + 5] || c[cb + 4] === tok) {
        c[cb + 4] = tok;
        c[cb + 5] = n;
      }
    } else {
      if (before === 0) return;
      const n = before - 1;
      p[b + 2] = n;
      if (n === 0) this.pLive--;
      c[cb + 3]--;
      if (c[cb + 3] === 0) this.live--;
      if (c[cb + 4] === tok) {
        c[cb + 5] = n;
        if (n === 0) c[cb + 4] = -1;
      }
    }
  }

  /** Rebuilds both tables without tombstones, sized so that live entries fill at most half. */
  private rehash(): void {
    const cap = Math.max(1 << 12, Math.ceil((this.live + 1) / 0.5));
    const pcap = Math.max(1 << 13, Math.ceil((this.pLive + 1) / 0.5));
    const oc = this.c;
    const ocap = this.cap;
    const op = this.p;
    const opcap = this.pcap;
    this.resize(cap, pcap);
    const moved = new Int32Array(ocap);
    const c = this.c;
    for (let s = 0; s < ocap; s++) {
      const ob = s * 6;
      if (oc[ob + 2] === 0 || oc[ob + 3] === 0) continue;
      this.q0 = oc[ob];
      this.q1 = oc[ob + 1];
      this.q2 = oc[ob + 2];
      const n = this.findOrInsert();
      const nb = n * 6;
      c[nb + 3] = oc[ob + 3];
      c[nb + 4] = oc[ob + 4];
      c[nb + 5] = oc[ob + 5];
      moved[s] = n + 1;
      this.live++;
    }
    const p = this.p;
    for (let i = 0; i < opcap; i++) {
      const ob = i * 3;
      if (op[ob] === 0 || op[ob + 2] === 0) continue;
      const m = moved[op[ob] - 1];
      if (m === 0) continue;
      const b = this.pairAt(m - 1, op[ob + 1]);
      p[b] = m;
      p[b + 1] = op[ob + 1];
      p[b + 2] = op[ob + 2];
      this.pUsed++;
      this.pLive++;
    }
  }

  private resize(cap: number, pcap: number): void {
    this.cap = cap;
    this.c = new Int32Array(cap * 6);
    this.used = 0;
    this.live = 0;
    this.pcap = pcap;
    this.p = new Int32Array(pcap * 3);
    this.pUsed = 0;
    this.pLive = 0;
  }

  /** Drops everything and shrinks back to the initial size (when the last document goes). */
  clear(): void {
    this.resize(1 << 12, 1 << 13);
  }

  bytes(): number {
    return this.c.byteLength + this.p.byteLength;
  }
}
