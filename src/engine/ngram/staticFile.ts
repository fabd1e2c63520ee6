/**
 * The static n-gram table's file format (`ngrams.bin`, shipped with the model), little-endian: header 32 bytes: "SDNG",
 * u32 version=1, u32 vocab_size, u32 num_orders, 16 zero bytes; num_orders records of 16 bytes: u32 order,
 * u32 num_contexts, u32 num_entries, u32 reserved; then per order, each array 4-byte aligned: contexts
 * u16[num_contexts*(order-1)], totals u32[num_contexts], offsets u32[num_contexts+1], tokens u16[num_entries], probs
 * u16[num_entries] (P * 65535, entries by probability descending per context). Read zero-copy through typed arrays.
 */
import * as os from 'node:os';

/** Orders 2..6: contexts of 1..5 tokens. */
export const MIN_ORDER = 2;
export const MAX_ORDER = 6;
const MAGIC = 'SDNG';
const VERSION = 1;
const HEADER_BYTES = 32;
const ORDER_RECORD_BYTES = 16;

/** One order of the table: contexts are exact rows sorted lexicographically, looked up by binary search. */
export interface StaticOrder {
  order: number;
  width: number; // order - 1
  numContexts: number;
  contexts: Uint16Array;
  totals: Uint32Array;
  offsets: Uint32Array;
  tokens: Uint16Array;
  probs: Uint16Array;
}

export function fail(file: string, why: string): never {
  throw new Error(`ngrams file ${file}: ${why}`);
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/**
 * Reads a static table (the whole file in memory) into typed-array views over it, checked so that lookups can trust
 * it. Throws an Error naming the file and what is wrong.
 */
export function parseStaticTable(file: string, input: Uint8Array, vocabSize: number): StaticOrder[] {
  if (os.endianness() !== 'LE') fail(file, 'big-endian hosts are not supported');
  // Typed-array views need aligned offsets; a file read on its own is (byteOffset 0), a pooled slice may not be.
  const buf = input.byteOffset % 4 === 0 ? input : new Uint8Array(input);
  const len = buf.byteLength;
  if (len < HEADER_BYTES) fail(file, `truncated (${len} bytes, header needs ${HEADER_BYTES})`);
  const dv = new DataView(buf.buffer, buf.byteOffset, len);
  const magic = String.fromCharCode(buf[0], buf[1], buf[2], buf[3]);
  if (magic !== MAGIC) fail(file, `bad magic ${JSON.stringify(magic)} (expected "${MAGIC}")`);
  const version = dv.getUint32(4, true);
  if (version !== VERSION) fail(file, `unsupported version ${version} (expected ${VERSION})`);
  const vocab = dv.getUint32(8, true);
  if (vocab !== vocabSize) fail(file, `vocabulary size ${vocab} does not match the model's ${vocabSize}`);
  if (vocab > 65536) fail(file, `vocabulary size ${vocab} does not fit u16 token ids`);
  const numOrders = dv.getUint32(12, true);
  if (numOrders < 1 || numOrders > MAX_ORDER - MIN_ORDER + 1) fail(file, `invalid number of orders ${numOrders}`);
  let off = HEADER_BYTES + numOrders * ORDER_RECORD_BYTES;
  if (off > len) fail(file, 'truncated order table');
  const seen = new Set<number>();
  const views: StaticOrder[] = [];
  for (let i = 0; i < numOrders; i++) {
    const r = HEADER_BYTES + i * ORDER_RECORD_BYTES;
    const order = dv.getUint32(r, true);
    const numContexts = dv.getUint32(r + 4, true);
    const numEntries = dv.getUint32(r + 8, true);
    if (order < MIN_ORDER || order > MAX_ORDER) fail(file, `invalid order ${order} (expected ${MIN_ORDER}..${MAX_ORDER})`);
    if (seen.has(order)) fail(file, `order ${order} appears twice`);
    seen.add(order);
    const width = order - 1;
    const take = (bytesPer: number, count: number, what: string): number => {
      off = align4(off);
      const start = off;
      const bytes = bytesPer * count;
      if (!Number.isSafeInteger(bytes) || start + bytes > len) fail(file, `truncated in order ${order} ${what} (needs ${start + bytes} bytes, file has ${len})`);
      off = start + bytes;
      return buf.byteOffset + start;
    };
    const cOff = take(2, numContexts * width, 'contexts');
    const tOff = take(4, numContexts, 'totals');
    const oOff = take(4, numContexts + 1, 'offsets');
    const kOff = take(2, numEntries, 'tokens');
    const pOff = take(2, numEntries, 'probs');
    views.push({
      order,
      width,
      numContexts,
      contexts: new Uint16Array(buf.buffer, cOff, numContexts * width),
      totals: new Uint32Array(buf.buffer, tOff, numContexts),
      offsets: new Uint32Array(buf.buffer, oOff, numContexts + 1),
      tokens: new Uint16Array(buf.buffer, kOff, numEntries),
      probs: new Uint16Array(buf.buffer, pOff, numEntries),
    });
  }
  if (len > align4(off)) fail(file, `${len - off} unexpected trailing bytes`);
  for (const v of views) validateOrder(file, v, vocabSize);
  return views;
}

/** Linear checks so that lookups can trust the table: offsets monotonic, ids in range, rows sorted. */
function validateOrder(file: string, v: StaticOrder, vocab: number): void {
  const { offsets, tokens, contexts, width, numContexts, order } = v;
  if (offsets[0] !== 0 || offsets[numContexts] !== tokens.length) {
    fail(file, `order ${order}: offsets do not span the ${tokens.length} entries`);
  }
  for (let c = 0; c < numContexts; c++) {
    if (offsets[c + 1] < offsets[c]) fail(file, `order ${order}: offsets decrease at context ${c}`);
  }
  for (let i = 0; i < tokens.length; i++) if (tokens[i] >= vocab) fail(file, `order ${order}: successor id ${tokens[i]} out of vocabulary`);
  for (let i = 0; i < contexts.length; i++) if (contexts[i] >= vocab) fail(file, `order ${order}: context id ${contexts[i]} out of vocabulary`);
  for (let c = 1; c < numContexts; c++) {
    const a = (c - 1) * width;
    const b = c * width;
    let cmp = 0;
    for (let j = 0; j < width && cmp === 0; j++) cmp = contexts[a + j] - contexts[b + j];
    if (cmp >= 0) fail(file, `order ${order}: context rows not strictly sorted at row ${c}`);
  }
}
