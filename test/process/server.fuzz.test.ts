/**
 * Fuzz of the real inference process (dist/server.js, built here) over both of its transports: forked with IPC, as
 * the extension runs it, and spawned with Content-Length framing on stdio. Seeded (SUPERDRAFT_FUZZ_SEED), bounded in
 * count (SUPERDRAFT_FUZZ_MESSAGES, default 10,500 in all) and time. It mixes malformed cancellations, wrong params
 * shapes, unknown methods, bad ids, non-object messages, stray responses, huge strings, deep nesting, broken frames
 * (stdio) and valid requests, and asserts: the process never exits, every request with a usable id is answered
 * (with the expected error code where the input decides it) within a deadline, a valid completion still works
 * afterwards, and RSS stays bounded.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rng as mulberry32 } from '../../src/engine/decode/math';
import { ErrorCodes, LIMITS, Methods } from '../../src/protocol';
import { ROOT } from '../helpers/paths';

const SERVER = process.env.SUPERDRAFT_FUZZ_SERVER || join(ROOT, 'dist', 'server.js');
const MODEL_DIR = process.env.SUPERDRAFT_MODEL_DIR || '';
const SEED = Number(process.env.SUPERDRAFT_FUZZ_SEED ?? 20240612);
const TOTAL = Number(process.env.SUPERDRAFT_FUZZ_MESSAGES ?? 10_500);
const IPC_SHARE = 2 / 3;
/** Every request with a usable id must be answered within this long after it was sent. */
const ANSWER_DEADLINE_MS = 30_000;
/** RSS may grow by at most this much over the run (after the model is loaded and warm). */
const RSS_GROWTH_LIMIT = 400 * 1024 * 1024;

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

type Expect = number | 'result' | 'any';
interface Out {
  /** Raw text for stdio (a frame, possibly broken) or a value for IPC. */
  value?: unknown;
  raw?: string;
  /** The id the answer must carry, when the message is a request with a usable id. */
  id?: string | number;
  expect?: Expect;
  kind: string;
}

const validComplete = (rnd: () => number) => ({
  prefix: `function f${Math.floor(rnd() * 1000)}(a, b) {\n  return `,
  suffix: '\n}\n',
  languageId: 'javascript',
  path: 'src/f.js',
  strategy: rnd() < 0.5 ? 'greedy' : 'superposed',
  k: rnd() < 0.5 ? 1 : 2,
  maxTokens: 1 + Math.floor(rnd() * 3),
  mode: 'line',
  speculative: false,
});

function deep(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

/** One generated message. `stdio` adds broken frames and deeper nesting (written as text, not stringified). */
function generate(rnd: () => number, nextId: () => number, stdio: boolean, recentIds: (string | number)[]): Out {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const r = rnd();
  const req = (method: string, params: unknown, expect: Expect, kind: string, stringId = rnd() < 0.3): Out => {
    const n = nextId();
    const id = stringId ? `s${n}` : n;
    const value: Record<string, unknown> = { jsonrpc: '2.0', id, method };
    if (params !== undefined) value.params = params;
    return { value, id, expect, kind };
  };
  if (r < 0.2) {
    // Malformed cancellations (the crash of issue 12), and some valid ones for recent ids.
    const params = pick(['x', {}, null, undefined, { id: null }, [1], { id: {} }, { id: [1] }, { id: 'x'.repeat(1000) }, { id: pick(recentIds.length ? recentIds : [1]) }]);
    const value: Record<string, unknown> = { jsonrpc: '2.0', method: '$/cancelRequest' };
    if (params !== undefined) value.params = params;
    return { value, kind: 'cancel' };
  }
  if (r < 0.4) {
    // Wrong params shapes for the methods that need an object.
    const method = pick([Methods.complete, Methods.indexFiles, Methods.initialize]);
    const params = pick([undefined, [], [1, 2], null, 'x', 42, true]);
    return req(method, params, ErrorCodes.InvalidParams, 'shape');
  }
  if (r < 0.52) {
    // Objects with wrong field types and values for complete / indexFiles / initialize.
    const c = validComplete(rnd);
    const variants: [string, unknown][] = [
      [Methods.complete, { ...c, k: pick([0, 17, 1.5, '3', -1, 1e300]) }],
      [Methods.complete, { ...c, strategy: pick(['topk', 7, '']) }],
      [Methods.complete, { ...c, prefix: pick([42, null, { a: 1 }, ['x']]) }],
      [Methods.complete, { ...c, snippets: pick(['x', [1], [{ path: 1, text: 'a' }], { length: 1 }]) }],
      [Methods.complete, { ...c, temperature: pick(['hot', -1, 99]) }],
      [Methods.complete, { ...c, maxTokens: pick([0, 5000, 'many']) }],
      [Methods.complete, { ...c, path: 'p/'.repeat(LIMITS.maxPathChars) }],
      [Methods.complete, { ...c, snippets: Array.from({ length: LIMITS.maxSnippets + 1 }, () => ({ path: 'a', text: 'b' })) }],
      [Methods.complete, { ...c, k: stdio ? 'DEEP' : deep(2000) }],
      [Methods.indexFiles, pick([{ files: 'x' }, { files: [1] }, { files: [{ path: 'a' }] }, { files: [], replace: 'yes' }])],
      [Methods.initialize, pick([{ device: 'bogus' }, { device: 7 }, { modelPath: 42 }, { threads: -1 }, { workspaceNgrams: 'no' }])],
    ];
    const [method, params] = pick(variants);
    const o = req(method, params, ErrorCodes.InvalidParams, 'fields');
    if (stdio && (params as { k?: unknown }).k === 'DEEP') {
      // 100,000 levels of nesting: written as text (JSON.stringify cannot), framed by hand.
      const body = JSON.stringify(o.value).replace('"DEEP"', '['.repeat(100_000) + ']'.repeat(100_000));
      return { ...o, value: undefined, raw: `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, kind: 'deep' };
    }
    return o;
  }
  if (r < 0.6) {
    const method = pick(['nope', 'superdraft/', 'superdraft/completeX', '$/cancelRequest', '$/setTrace', 'x'.repeat(100_000), '']);
    return req(method, pick([undefined, {}, [1]]), ErrorCodes.MethodNotFound, 'unknown');
  }
  if (r < 0.7) {
    // Bad ids, non-object messages, batches, stray responses, missing fields: answered with id null or dropped.
    const v = pick<unknown>([
      { jsonrpc: '2.0', id: null, method: Methods.ping },
      { jsonrpc: '2.0', id: {}, method: Methods.ping },
      { jsonrpc: '2.0', id: [1], method: Methods.diagnostics },
      { jsonrpc: '2.0', id: true, method: Methods.complete, params: {} },
      { jsonrpc: '2.0', id: 'i'.repeat(5000), method: Methods.ping },
      'hello',
      42,
      null,
      [],
      [{ jsonrpc: '2.0', id: 1, method: Methods.ping }],
      { jsonrpc: '2.0', id: 3, result: 1 },
      { jsonrpc: '2.0', id: 3, error: { code: 1, message: 'x' } },
      { jsonrpc: '2.0' },
      { method: 7 },
      { jsonrpc: '2.0', method: 'superdraft/unknownNotification', params: { a: 1 } },
      { jsonrpc: '2.0', method: '$/progress', params: null },
      { jsonrpc: '2.0', method: '$/setTrace', params: 'x' },
    ]);
    return { value: v, kind: 'junk' };
  }
  if (r < 0.72) {
    // Huge strings within reason: rejected by the bounds before any tokenizing, or windowed.
    const c = validComplete(rnd);
    const big = pick(['path', 'snippet', 'prefix', 'suffix']);
    if (big === 'path') return req(Methods.complete, { ...c, path: 'a'.repeat(1_000_000) }, ErrorCodes.InvalidParams, 'huge');
    if (big === 'snippet') return req(Methods.complete, { ...c, snippets: [{ path: 'b.js', text: 'x'.repeat(LIMITS.maxSnippetChars + 1) }] }, ErrorCodes.InvalidParams, 'huge');
    // A valid 2 MB single-line prefix / suffix: the engine must tokenize only its window.
    if (big === 'prefix') return req(Methods.complete, { ...c, prefix: 'y'.repeat(2_000_000) + c.prefix }, 'result', 'huge');
    return req(Methods.complete, { ...c, suffix: c.suffix + 'z'.repeat(2_000_000) }, 'result', 'huge');
  }
  if (r < 0.78) {
    // Broken frames (stdio only; over IPC node frames the messages).
    if (!stdio) return req(Methods.ping, undefined, 'result', 'ping');
    const body = JSON.stringify({ jsonrpc: '2.0', id: nextId(), method: Methods.ping });
    const raw = pick([
      `Content-Length: abc\r\n\r\n${body}`,
      `Content-Type: application/json\r\n\r\n${body}`,
      `Content-Length: ${Buffer.byteLength(body) - 5}\r\n\r\n${body}`,
      `Content-Length: 12\r\n\r\n{not json!!}`,
      `garbage garbage \u0000\u0001 garbage`,
      `Content-Length: ${LIMITS.maxMessageBytes + 1}\r\n\r\n${body}`,
      `Content-Length: 0\r\n\r\n`,
      `Content-Length: -4\r\n\r\n${body}`,
      `Content-Length: ${Buffer.byteLength(body) + 40}\r\n\r\n${body}`,
    ]);
    return { raw, kind: 'frame' };
  }
  if (r < 0.8) return req(Methods.complete, validComplete(rnd), 'result', 'valid');
  if (r < 0.95) return req(Methods.ping, pick([undefined, {}, []]), 'result', 'ping');
  return req(Methods.diagnostics, undefined, 'result', 'diagnostics');
}

interface Answer {
  id: unknown;
  result?: unknown;
  error?: { code: number; message: string };
}

/** Sends messages and matches answers to ids; records exits. Transport-specific `write` and answer feeding. */
class Harness {
  readonly pending = new Map<string | number, { expect: Expect; sentAt: number; kind: string; resolve: () => void }>();
  readonly failures: string[] = [];
  readonly byKind = new Map<string, number>();
  nullIdErrors = new Map<number, number>();
  answered = 0;
  maxAnswerMs = 0;
  exits: string[] = [];
  sent = 0;

  constructor(
    readonly child: ChildProcess,
    private readonly write: (o: Out) => void,
  ) {
    child.on('exit', (code, signal) => this.exits.push(`exit code ${code} signal ${signal}`));
  }

  onAnswer(a: Answer): void {
    if (a.id === null || a.id === undefined) {
      if (a.error) this.nullIdErrors.set(a.error.code, (this.nullIdErrors.get(a.error.code) ?? 0) + 1);
      return;
    }
    const p = this.pending.get(a.id as string | number);
    if (!p) return;
    this.pending.delete(a.id as string | number);
    this.answered++;
    const ms = performance.now() - p.sentAt;
    this.maxAnswerMs = Math.max(this.maxAnswerMs, ms);
    // A request may be cancelled by one of the valid cancellations in the mix: -32800 is always an answer.
    if (p.expect === 'result' && a.error && a.error.code !== ErrorCodes.RequestCancelled) this.failures.push(`${p.kind} ${String(a.id)}: expected a result, got error ${a.error.code} ${a.error.message.slice(0, 120)}`);
    if (typeof p.expect === 'number' && a.error?.code !== p.expect) {
      // A cancelled request may be answered -32800 whatever it was.
      if (a.error?.code !== ErrorCodes.RequestCancelled) this.failures.push(`${p.kind} ${String(a.id)}: expected error ${p.expect}, got ${a.error ? `${a.error.code} ${a.error.message.slice(0, 120)}` : 'a result'}`);
    }
    p.resolve();
  }

  send(o: Out): Promise<void> | undefined {
    this.sent++;
    this.byKind.set(o.kind, (this.byKind.get(o.kind) ?? 0) + 1);
    let done: Promise<void> | undefined;
    if (o.id !== undefined) {
      const id = o.id;
      done = new Promise<void>((resolve) => this.pending.set(id, { expect: o.expect ?? 'any', sentAt: performance.now(), kind: o.kind, resolve }));
    }
    this.write(o);
    return done;
  }

  /** Waits for all pending answers; anything older than the deadline is a hang. */
  async settle(): Promise<void> {
    while (this.pending.size > 0) {
      const now = performance.now();
      for (const [id, p] of this.pending) {
        if (now - p.sentAt > ANSWER_DEADLINE_MS) {
          this.failures.push(`hang: ${p.kind} ${String(id)} unanswered after ${ANSWER_DEADLINE_MS} ms`);
          this.pending.delete(id);
        }
      }
      if (this.exits.length) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** A request sent the normal way, answered with its result. */
  async call(method: string, params: unknown, id: string | number): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      if (this.exits.length) return reject(new Error(`${method} ${String(id)}: the server exited (${this.exits.join(', ')})`));
      this.child.once('exit', (code, signal) => reject(new Error(`${method} ${String(id)}: the server exited (code ${code}, signal ${signal})`)));
      const t = setTimeout(() => reject(new Error(`${method} ${String(id)} unanswered`)), ANSWER_DEADLINE_MS * 2);
      const orig = this.onAnswer.bind(this);
      this.onAnswer = (a) => {
        if (a.id === id) {
          clearTimeout(t);
          this.onAnswer = orig;
          resolve(a);
        } else orig(a);
      };
      this.write({ value: { jsonrpc: '2.0', id, method, params }, kind: 'call' });
    });
  }
}

/** Runs `count` generated messages through `h` in bursts, keeping at most a few hundred requests outstanding. */
async function fuzz(h: Harness, count: number, seed: number, stdio: boolean): Promise<void> {
  const rnd = mulberry32(seed);
  let n = 1_000_000 * (stdio ? 2 : 1);
  const nextId = () => ++n;
  const recent: (string | number)[] = [];
  for (let i = 0; i < count; i++) {
    const o = generate(rnd, nextId, stdio, recent);
    if (o.id !== undefined) {
      recent.push(o.id);
      if (recent.length > 32) recent.shift();
    }
    void h.send(o);
    if (h.exits.length) return;
    if (i % 100 === 99) {
      // Let the server breathe: bounded backlog, so the deadline measures the server, not this loop.
      while (h.pending.size > 200 && !h.exits.length) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setImmediate(r));
    }
  }
  await h.settle();
}

const report: string[] = [];

function summary(name: string, h: Harness, rssBefore: number, rssAfter: number, ms: number): void {
  report.push(
    `${name}: ${h.sent} messages in ${(ms / 1000).toFixed(1)} s, ${h.answered} requests answered (slowest ${Math.round(h.maxAnswerMs)} ms), ` +
      `id-null errors ${JSON.stringify(Object.fromEntries(h.nullIdErrors))}, exits ${h.exits.length}, failures ${h.failures.length}, ` +
      `RSS ${(rssBefore / 1048576).toFixed(0)} -> ${(rssAfter / 1048576).toFixed(0)} MiB, kinds ${JSON.stringify(Object.fromEntries(h.byKind))}`,
  );
}

const children: ChildProcess[] = [];

beforeAll(() => {
  if (!existsSync(SERVER)) throw new Error('dist/server.js was not built');
});

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  // The figures of the run, for the log of `npm test`.
  console.log(`server fuzz (seed ${SEED}):\n  ${report.join('\n  ')}`);
});

async function initAndWarm(h: Harness): Promise<void> {
  const init = await h.call(Methods.initialize, { modelPath: MODEL_DIR, device: 'cpu', workspaceNgrams: true }, 'init');
  expect(init.error, JSON.stringify(init.error)).toBeUndefined();
  const first = await h.call(Methods.complete, validComplete(mulberry32(1)), 'warm');
  expect(first.error, JSON.stringify(first.error)).toBeUndefined();
}

async function afterwards(h: Harness): Promise<void> {
  // A rejected re-initialize leaves the working engine in place.
  const reinit = await h.call(Methods.initialize, { modelPath: MODEL_DIR, device: 'nonsense' }, 'reinit');
  expect(reinit.error?.code).toBe(ErrorCodes.InvalidParams);
  const reload = await h.call(Methods.initialize, { modelPath: '/nonexistent/superdraft-model', device: 'cpu' }, 'reload');
  expect(reload.error?.code).toBe(ErrorCodes.ModelLoadFailed);
  expect(reload.error?.message).toContain('/nonexistent/superdraft-model');
  const res = await h.call(Methods.complete, { ...validComplete(mulberry32(2)), maxTokens: 8 }, 'final');
  expect(res.error, JSON.stringify(res.error)).toBeUndefined();
  expect(Array.isArray((res.result as { drafts: unknown[] }).drafts)).toBe(true);
  const diag = await h.call(Methods.diagnostics, undefined, 'diag');
  expect((diag.result as { pid: number }).pid).toBe(h.child.pid);
}

describe('inference process fuzz', () => {
  it(`survives ${Math.round(TOTAL * IPC_SHARE)} mixed messages over IPC (fork), answering every request`, async () => {
    const child = fork(SERVER, [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...process.env, SUPERDRAFT_SERVER_NICE: '0' } });
    children.push(child);
    child.stdout?.resume();
    child.stderr?.resume();
    const h = new Harness(child, (o) => child.send(o.value as never));
    child.on('message', (m: Answer & { method?: string }) => {
      if (m && typeof m === 'object' && !m.method) h.onAnswer(m);
    });
    await initAndWarm(h);
    const rssBefore = rssBytes(child.pid!);
    const t0 = performance.now();
    await fuzz(h, Math.round(TOTAL * IPC_SHARE), SEED, false);
    const ms = performance.now() - t0;
    expect(h.exits).toEqual([]);
    await afterwards(h);
    const rssAfter = rssBytes(child.pid!);
    summary('ipc', h, rssBefore, rssAfter, ms);
    expect(h.exits).toEqual([]);
    expect(h.failures.slice(0, 10)).toEqual([]);
    expect(h.nullIdErrors.get(ErrorCodes.InvalidRequest) ?? 0).toBeGreaterThan(0);
    expect(rssAfter - rssBefore).toBeLessThan(RSS_GROWTH_LIMIT);
    child.kill('SIGKILL');
  }, 120_000);

  it(`survives ${TOTAL - Math.round(TOTAL * IPC_SHARE)} mixed messages and broken frames over stdio, resynchronising`, async () => {
    const child = spawn(process.execPath, [SERVER], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, SUPERDRAFT_SERVER_NICE: '0' } });
    children.push(child);
    child.stderr?.resume();
    const h = new Harness(child, (o) => {
      if (o.raw !== undefined) child.stdin!.write(o.raw);
      else {
        const body = Buffer.from(JSON.stringify(o.value), 'utf8');
        child.stdin!.write(`Content-Length: ${body.length}\r\n\r\n`);
        child.stdin!.write(body);
      }
    });
    child.stdin!.on('error', () => undefined);
    // The server's output is trusted: plain Content-Length framing.
    let buf = Buffer.alloc(0);
    child.stdout!.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const len = Number(/Content-Length: (\d+)/i.exec(buf.toString('latin1', 0, end))![1]);
        if (buf.length < end + 4 + len) return;
        const m = JSON.parse(buf.toString('utf8', end + 4, end + 4 + len)) as Answer & { method?: string };
        buf = buf.subarray(end + 4 + len);
        if (!m.method) h.onAnswer(m);
      }
    });
    await initAndWarm(h);
    // Deterministic first: after a bad Content-Length the next frame is still read (and the bad one answered -32700).
    child.stdin!.write('Content-Length: abc\r\n\r\n{"jsonrpc":"2.0","id":"lost","method":"superdraft/ping"}');
    const pong = await h.call(Methods.ping, undefined, 'after-bad-frame');
    expect(pong.error).toBeUndefined();
    expect(h.nullIdErrors.get(ErrorCodes.ParseError)).toBe(1);
    const rssBefore = rssBytes(child.pid!);
    const t0 = performance.now();
    await fuzz(h, TOTAL - Math.round(TOTAL * IPC_SHARE), SEED + 1, true);
    const ms = performance.now() - t0;
    expect(h.exits).toEqual([]);
    await afterwards(h);
    const rssAfter = rssBytes(child.pid!);
    summary('stdio', h, rssBefore, rssAfter, ms);
    expect(h.exits).toEqual([]);
    expect(h.failures.slice(0, 10)).toEqual([]);
    expect(h.byKind.get('frame') ?? 0).toBeGreaterThan(0);
    expect(h.nullIdErrors.get(ErrorCodes.ParseError) ?? 0).toBeGreaterThan(0);
    expect(rssAfter - rssBefore).toBeLessThan(RSS_GROWTH_LIMIT);
    child.kill('SIGKILL');
  }, 180_000);
});
