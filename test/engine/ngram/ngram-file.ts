/**
 * Test helper: writes ngrams.bin files in the documented format (see src/engine/ngram.ts and notes), so the
 * loader is checked against an independent writer.
 */
export interface OrderSpec {
  order: number;
  /** Context (oldest first) -> successors [token, probability] (probability descending). */
  rows: { ctx: number[]; total: number; next: [number, number][] }[];
}

function pad4(parts: Buffer[], len: number): number {
  const p = (4 - (len % 4)) % 4;
  if (p) parts.push(Buffer.alloc(p));
  return len + p;
}

export function buildNgramFile(vocab: number, orders: OrderSpec[], opts: { magic?: string; version?: number } = {}): Buffer {
  const parts: Buffer[] = [];
  const header = Buffer.alloc(32);
  header.write(opts.magic ?? 'SDNG', 0, 'ascii');
  header.writeUInt32LE(opts.version ?? 1, 4);
  header.writeUInt32LE(vocab, 8);
  header.writeUInt32LE(orders.length, 12);
  parts.push(header);
  const table = Buffer.alloc(16 * orders.length);
  orders.forEach((o, i) => {
    const rows = [...o.rows].sort((a, b) => {
      for (let j = 0; j < a.ctx.length; j++) if (a.ctx[j] !== b.ctx[j]) return a.ctx[j] - b.ctx[j];
      return 0;
    });
    o.rows = rows;
    table.writeUInt32LE(o.order, i * 16);
    table.writeUInt32LE(rows.length, i * 16 + 4);
    table.writeUInt32LE(rows.reduce((s, r) => s + r.next.length, 0), i * 16 + 8);
  });
  parts.push(table);
  let len = 32 + table.length;
  for (const o of orders) {
    const rows = o.rows;
    const ctx = Buffer.alloc(2 * rows.length * (o.order - 1));
    rows.forEach((r, i) => r.ctx.forEach((t, j) => ctx.writeUInt16LE(t, 2 * (i * (o.order - 1) + j))));
    const totals = Buffer.alloc(4 * rows.length);
    rows.forEach((r, i) => totals.writeUInt32LE(r.total, 4 * i));
    const offsets = Buffer.alloc(4 * (rows.length + 1));
    let acc = 0;
    rows.forEach((r, i) => {
      offsets.writeUInt32LE(acc, 4 * i);
      acc += r.next.length;
    });
    offsets.writeUInt32LE(acc, 4 * rows.length);
    const toks = Buffer.alloc(2 * acc);
    const probs = Buffer.alloc(2 * acc);
    let e = 0;
    for (const r of rows)
      for (const [t, p] of r.next) {
        toks.writeUInt16LE(t, 2 * e);
        probs.writeUInt16LE(Math.round(p * 65535), 2 * e);
        e++;
      }
    for (const b of [ctx, totals, offsets, toks, probs]) {
      len = pad4(parts, len);
      parts.push(b);
      len += b.length;
    }
  }
  return Buffer.concat(parts);
}

export const q = (p: number): number => Math.round(p * 65535) / 65535;
