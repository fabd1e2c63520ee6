/**
 * A hostile Hub (issue 26), on loopback: the project's LoopbackHub with its faults, a second LoopbackHub as
 * "another origin", the real installer (src/install: net.ts, hub.ts, download.ts). One test a case; each asserts the
 * error's code and message, and what was written where (the store, the .partial folder, which origin saw the token).
 * The time limits are the tests' own (FAST below): the same code with milliseconds instead of seconds.
 */
import { createServer, type Socket } from 'node:net';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { installModel, type InstallOptions } from '../../src/install/install';
import { DEFAULT_LIMITS, netLimits, type NetLimits } from '../../src/install/limits';
import { MANIFEST, listInstalled } from '../../src/install/store';
import { LoopbackHub } from '../helpers/hubServer';
import { REPLICAS } from '../helpers/paths';

const tmp = mkdtempSync(path.join(tmpdir(), 'sd-hostile-'));
const dir = path.join(tmp, 'hub', 'qwen2');
cpSync(path.join(REPLICAS, 'qwen2'), dir, { recursive: true });
const TOKEN = 'hf_loopbacktesttoken0123456789';
const repos = { 'test/qwen2': { dir }, 'test/gated': { dir, gated: true } };
const hub = new LoopbackHub(repos, TOKEN);
/** Another origin (another port): what must never see the token. */
const other = new LoopbackHub(repos, TOKEN);
const DATA = 'onnx/model_q4.onnx_data';
const DATA_SIZE = statSync(path.join(dir, DATA)).size;

const FAST: NetLimits = { ...DEFAULT_LIMITS, connectMs: 1000, headersMs: 300, idleMs: 300, minSpeedBps: 2000, windowMs: 600, listingMs: 3000, maxPages: 5, retries: 2, backoffMs: 20 };
let store: string;
let n = 0;

beforeAll(async () => {
  await hub.start();
  await other.start();
});
afterAll(async () => {
  await hub.stop();
  await other.stop();
  rmSync(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  hub.reset();
  other.reset();
  store = path.join(tmp, `store-${n++}`);
});

const opts = (o: Partial<InstallOptions> = {}): InstallOptions => ({ source: 'test/qwen2', store, endpoint: hub.url, limits: FAST, retries: 0, ...o });
const fails = (o: Partial<InstallOptions> = {}): Promise<{ code: string; message: string }> =>
  installModel(opts(o)).then(
    () => {
      throw new Error('the install succeeded');
    },
    (e: { code: string; message: string }) => e,
  );
const partial = (): string[] => (existsSync(path.join(store, '.partial', 'qwen2')) ? readdirSync(path.join(store, '.partial', 'qwen2'), { recursive: true }).map(String).sort() : []);
const downloads = (h: LoopbackHub): string[] => h.requests.filter((q) => q.path.includes('/resolve/') || q.path.startsWith('/storage/')).map((q) => q.path);

describe('the token stays on the endpoint\'s origin', () => {
  for (const xCache of [undefined, 'Hit from cloudfront']) {
    it(`a resolve redirect to another origin${xCache ? ' answering X-Cache: Hit from cloudfront' : ''}: the download there carries no token`, async () => {
      hub.faults = { redirect: [{ file: DATA, origin: other.url, ...(xCache ? { xCache } : {}) }] };
      const r = await installModel(opts({ source: 'test/gated', token: TOKEN }));
      expect(r.name).toBe('gated');
      const there = other.requests.filter((q) => q.path === `/storage/test/gated/${DATA}`);
      expect(there.length).toBe(1);
      expect(other.requests.every((q) => !q.authorized)).toBe(true);
      // The endpoint itself got the token for every request (the gated repository needs it).
      expect(hub.requests.length).toBeGreaterThan(0);
      expect(hub.requests.every((q) => q.authorized)).toBe(true);
      expect(readFileSync(path.join(r.dir, DATA)).equals(readFileSync(path.join(dir, DATA)))).toBe(true);
    });
  }

  it('a tree listing whose Link: rel="next" points at another origin: that page is read without the token', async () => {
    hub.faults = { treeLink: `<${other.url}/api/models/test/qwen2/tree/main?cursor=abc>; rel="next"` };
    other.faults = { tree: () => [] };
    const r = await installModel(opts({ token: TOKEN }));
    expect(r.name).toBe('qwen2');
    expect(other.requests.map((q) => `${q.path}${q.query} ${q.authorized}`)).toEqual(['/api/models/test/qwen2/tree/main?cursor=abc false']);
    expect(hub.requests.find((q) => q.path.startsWith('/api/'))?.authorized).toBe(true);
  });
});

describe('verify or refuse', () => {
  it('an LFS entry without oid: refused before any download, naming the file; nothing written', async () => {
    hub.faults = { tree: (es) => es.map((e) => (e.path === DATA ? { ...e, lfs: { size: e.lfs.size } } : e)) };
    const e = await fails();
    expect(e.code).toBe('unverified');
    expect(e.message).toBe(`test/qwen2 lists no sha256 or git blob id for ${DATA}, so it cannot be verified; nothing was downloaded (the CLI installs such files with --allow-unverified)`);
    expect(downloads(hub)).toEqual([]);
    expect(existsSync(store) ? readdirSync(store) : []).toEqual([]);
  });

  it('the same with allowUnverified: installed, with a warning, and marked unverified in the manifest', async () => {
    hub.faults = { tree: (es) => es.map((e) => (e.path === DATA ? { ...e, lfs: { size: e.lfs.size } } : e)) };
    const warnings: string[] = [];
    const r = await installModel(opts({ allowUnverified: true, onWarning: (w) => warnings.push(w) }));
    expect(warnings).toEqual([`--allow-unverified: ${DATA} from test/qwen2 is installed UNVERIFIED (the Hub lists no hash for it)`]);
    const m = JSON.parse(readFileSync(path.join(r.dir, MANIFEST), 'utf8'));
    expect(m.files.filter((f: { unverified?: boolean }) => f.unverified).map((f: { path: string }) => f.path)).toEqual([DATA]);
  });

  it('a malformed git oid: the listing is refused naming the entry and the field', async () => {
    hub.faults = { tree: (es) => es.map((e) => (e.path === 'config.json' ? { ...e, oid: 'not-a-sha1' } : e)) };
    const e = await fails();
    expect(e.code).toBe('integrity');
    expect(e.message).toMatch(new RegExp(`^the tree listing of test/qwen2 on ${hub.url.replace(/[.]/g, '\\.')}: entry \\d+ of the tree listing has "oid" "not-a-sha1", expected a git blob id \\(40 hex digits\\)$`));
    expect(downloads(hub)).toEqual([]);
  });

  it('an upper-case sha256 in the listing is the same hash: installed', async () => {
    hub.faults = { tree: (es) => es.map((e) => (e.lfs ? { ...e, lfs: { ...e.lfs, oid: e.lfs.oid.toUpperCase() } } : e)) };
    const r = await installModel(opts());
    expect(readFileSync(path.join(r.dir, DATA)).equals(readFileSync(path.join(dir, DATA)))).toBe(true);
  });

  it('a flipped byte in a file listed with an upper-case sha256 is still refused', async () => {
    hub.faults = { tree: (es) => es.map((e) => (e.lfs ? { ...e, lfs: { ...e.lfs, oid: e.lfs.oid.toUpperCase() } } : e)), corrupt: [{ file: DATA, at: 10 }] };
    const e = await fails();
    expect(e.code).toBe('integrity');
    expect(e.message).toMatch(/^onnx\/model_q4\.onnx_data is corrupt: its sha256 is [0-9a-f]{64}, the Hub lists [0-9a-f]{64}\. The file was deleted/);
    expect(partial().filter((f) => f.startsWith('onnx/model_q4.onnx_data'))).toEqual([]);
  });

  for (const [what, fault, message] of [
    ['a size "abc"', (e: Record<string, any>) => (e.path === DATA ? { ...e, lfs: { ...e.lfs, size: 'abc' } } : e), /has "lfs\.size" "abc", expected a whole number of bytes ≥ 0$/],
    ['a size -5', (e: Record<string, any>) => (e.path === 'config.json' ? { ...e, size: -5 } : e), /has "size" number -5, expected a whole number of bytes ≥ 0$/],
    ['a path 123', (e: Record<string, any>) => (e.path === 'config.json' ? { ...e, path: 123 } : e), /has "path" number 123, expected a non-empty string$/],
  ] as const) {
    it(`a listing entry with ${what}: refused naming the field, before any download or disk check`, async () => {
      hub.faults = { tree: (es) => es.map(fault) };
      const e = await fails();
      expect(e.code).toBe('integrity');
      expect(e.message).toMatch(/^the tree listing of test\/qwen2 on http:\/\/127\.0\.0\.1:\d+: entry \d+ of the tree listing/);
      expect(e.message).toMatch(message);
      expect(downloads(hub)).toEqual([]);
      expect(existsSync(store)).toBe(false);
    });
  }

  it('a body longer than the listed size: refused from its Content-Length before a byte is written, naming the file', async () => {
    hub.faults = { listedSize: [{ file: DATA, size: 1000 }] };
    const e = await fails();
    expect(e).toMatchObject({ code: 'integrity', message: `${DATA}: the Hub serves 168.4 kB but lists 1.0 kB; the repository changed during the install, run it again` });
    expect(partial().filter((f) => f.startsWith(DATA))).toEqual([]);
    expect(listInstalled(store)).toEqual([]);
  });

  it('a listing that is not a list: refused as such (not "cannot reach")', async () => {
    hub.faults = { tree: () => ({ files: [] }) };
    const e = await fails();
    expect(e).toMatchObject({ code: 'integrity', message: `the tree listing of test/qwen2 on ${hub.url}: page 1 is an object, expected a list of entries` });
  });
});

describe('bounded time', () => {
  it('a body that drips a byte at a time: each attempt is cut at the minimum speed, resumed from the .part, then it fails naming the file', async () => {
    hub.faults = { drip: [{ file: DATA, intervalMs: 20 }] };
    const t0 = Date.now();
    const e = await fails({ retries: 2 });
    const ms = Date.now() - t0;
    expect(e.code).toBe('network');
    expect(e.message).toMatch(/^onnx\/model_q4\.onnx_data: the download was interrupted after \d+ B of 168\.4 kB \(http:\/\/127\.0\.0\.1:\d+\/storage\/test\/qwen2\/onnx\/model_q4\.onnx_data: \d+ B in the last 0\.\d s, slower than the minimum 2\.0 kB\/s\)\. [\d.]+ k?B are kept in .*: run the same install again to resume$/);
    // 3 attempts of at most FAST.windowMs each (+ the other files and the backoff): bounded.
    expect(ms).toBeLessThan(3 * FAST.windowMs + 2000);
    const ranges = hub.requests.filter((q) => q.path === `/storage/test/qwen2/${DATA}`).map((q) => q.range ?? 'none');
    expect(ranges.length).toBe(3);
    expect(ranges[0]).toBe('none');
    expect(ranges[1]).toMatch(/^bytes=[1-9]\d*-/);
    const part = statSync(path.join(store, '.partial', 'qwen2', `${DATA}.part`)).size;
    expect(part).toBeGreaterThan(0);
    expect(part).toBeLessThan(DATA_SIZE);
    expect(ranges[2]).toMatch(/^bytes=[1-9]\d*-/);
    expect(listInstalled(store)).toEqual([]);
  });

  it('headers, then silence: cut at the idle limit, the file named', async () => {
    hub.faults = { stallAfterHeaders: [DATA] };
    const t0 = Date.now();
    const e = await fails();
    expect(Date.now() - t0).toBeLessThan(FAST.idleMs + 1500);
    expect(e.code).toBe('network');
    expect(e.message).toMatch(/^onnx\/model_q4\.onnx_data: the download was interrupted after 0 B of 168\.4 kB \(http:\/\/127\.0\.0\.1:\d+\/storage\/test\/qwen2\/onnx\/model_q4\.onnx_data: no data for 0\.3 s\)/);
  });

  it('a server that never sends headers: cut at the headers limit, the file named', async () => {
    hub.faults = { noHeaders: [DATA] };
    const t0 = Date.now();
    const e = await fails();
    expect(Date.now() - t0).toBeLessThan(FAST.headersMs + 1500);
    expect(e.code).toBe('network');
    expect(e.message).toMatch(/^onnx\/model_q4\.onnx_data: gave up on http:\/\/127\.0\.0\.1:\d+ for test\/qwen2: http:\/\/127\.0\.0\.1:\d+\/storage\/test\/qwen2\/onnx\/model_q4\.onnx_data: no response within 0\.3 s of connecting\. [\d.]+ k?B are kept in .*\.partial\/qwen2: run the same install again to resume$/);
  });

  it('a Link: next pointing back at itself: refused at the second page', async () => {
    hub.faults = { treeLink: (u) => `<${hub.url}${u}>; rel="next"` };
    const e = await fails();
    expect(e.code).toBe('network');
    expect(e.message).toBe(`the tree listing of test/qwen2 on ${hub.url} loops: page 2 (${hub.url}/api/models/test/qwen2/tree/main?recursive=true&expand=false) was already read`);
    expect(hub.requests.filter((q) => q.path.startsWith('/api/')).length).toBe(1);
  });

  it('a Link: next that never ends (a new cursor each page): refused after the page cap', async () => {
    let i = 0;
    hub.faults = { treeLink: () => `<${hub.url}/api/models/test/qwen2/tree/main?cursor=${++i}>; rel="next"`, tree: () => [] };
    const e = await fails();
    expect(e).toMatchObject({ code: 'network', message: `the tree listing of test/qwen2 on ${hub.url} has more than 5 pages; refused` });
    expect(hub.requests.filter((q) => q.path.startsWith('/api/')).length).toBe(5);
  });

  it('a redirect loop and a redirect to a file: URL are refused', async () => {
    hub.faults = { location: [{ file: DATA, to: `/test/qwen2/resolve/main/${DATA}` }] };
    const loop = await fails();
    expect(loop.message).toMatch(/redirects in a loop/);
    hub.reset();
    hub.faults = { location: [{ file: DATA, to: 'file:///etc/passwd' }] };
    const file = await fails();
    expect(file.message).toMatch(/refused a redirect to a file: URL \(file:\/\/\/etc\/passwd\); only http and https are followed/);
  });

  it('an https endpoint that accepts the connection and never completes the TLS handshake: cut at the connect limit', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      const t0 = Date.now();
      const e = await fails({ endpoint: `https://127.0.0.1:${port}`, limits: { ...FAST, connectMs: 300, windowMs: 5000 } });
      expect(Date.now() - t0).toBeLessThan(1500);
      expect(e).toMatchObject({ code: 'network', message: `gave up on https://127.0.0.1:${port} for test/qwen2: https://127.0.0.1:${port}/api/models/test/qwen2/tree/main?recursive=true&expand=false: no connection within 0.3 s` });
      expect(sockets.length).toBe(1);
      expect(existsSync(store)).toBe(false);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it('a listing whose pages never end within the listing limit: cut at it', async () => {
    let i = 0;
    hub.faults = { treeLink: () => `<${hub.url}/api/models/test/qwen2/tree/main?cursor=${++i}>; rel="next"`, tree: () => [] };
    const t0 = Date.now();
    const e = await fails({ limits: { ...FAST, maxPages: 1_000_000, listingMs: 300 } });
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(e).toMatchObject({ code: 'network', message: `the tree listing of test/qwen2 on ${hub.url} took longer than 0.3 s; refused` });
  });

  it('the production limits bound a stall within 2 minutes, retries included', () => {
    const l = netLimits({});
    // An attempt ends at the speed window at the latest; three attempts plus the backoff.
    expect((l.retries + 1) * l.windowMs + l.backoffMs * ((l.retries * (l.retries + 1)) / 2)).toBeLessThan(120_000);
    expect(Math.max(l.connectMs + l.headersMs, l.idleMs)).toBeLessThanOrEqual(l.windowMs);
    expect(netLimits({ SUPERDRAFT_NET_IDLE_MS: '250', SUPERDRAFT_NET_RETRIES: 'x' })).toMatchObject({ idleMs: 250, retries: 2 });
  });
});

describe('secrets', () => {
  it('credentials in HF_ENDPOINT are refused without printing them', async () => {
    const e = await fails({ endpoint: hub.url.replace('http://', 'http://u:hf_PASSWORD1234@') });
    expect(e.code).toBe('bad_input');
    expect(e.message).toBe(`HF_ENDPOINT ${hub.url} has credentials in it (user:password@), which are never sent; put a token in HF_TOKEN instead`);
    expect(hub.requests).toEqual([]);
  });

  it('a token with a line break is refused before any request, without printing it', async () => {
    const e = await fails({ token: 'hf_abcdefgh\n12345678' });
    expect(e).toMatchObject({ code: 'bad_input', message: 'the Hugging Face token does not look like one (it contains a line break, a space or a control character); check HF_TOKEN or set the token again' });
    expect(hub.requests).toEqual([]);
  });
});
