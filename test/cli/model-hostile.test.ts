/**
 * Issue 26's hostile cases that end at the terminal, through the built CLI (node dist/cli.js, real child processes)
 * against the loopback Hub: exit code, the message on stderr, what is on stdout and what was written where. The
 * time limits come from SUPERDRAFT_NET_* (src/install/limits.ts), milliseconds here.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoopbackHub } from '../helpers/hubServer';
import { ROOT } from '../helpers/paths';

const CLI = join(ROOT, 'dist', 'cli.js');
const tmp = mkdtempSync(join(tmpdir(), 'sd-cli-hostile-'));
const replica = join(tmp, 'hub', 'qwen2');
cpSync(join(ROOT, 'test', 'fixtures', 'replicas', 'qwen2'), replica, { recursive: true });
const hub = new LoopbackHub({ 'test/qwen2': { dir: replica } });
const DATA = 'onnx/model_q4.onnx_data';
const FAST = { SUPERDRAFT_NET_HEADERS_MS: '300', SUPERDRAFT_NET_IDLE_MS: '300', SUPERDRAFT_NET_MIN_SPEED_BPS: '2000', SUPERDRAFT_NET_WINDOW_MS: '600', SUPERDRAFT_NET_BACKOFF_MS: '20' };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const base = { ...process.env };
  delete base.HF_TOKEN;
  delete base.SUPERDRAFT_MODELS_DIR;
  for (const k of Object.keys(base)) if (k.startsWith('SUPERDRAFT_NET_')) delete base[k];
  const t0 = Date.now();
  return new Promise((res) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...base, HF_ENDPOINT: hub.url, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => res({ code, stdout, stderr, ms: Date.now() - t0 }));
  });
}

beforeAll(async () => {
  await hub.start();
});
afterAll(async () => {
  await hub.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const stored = (store: string): string[] => (existsSync(store) ? readdirSync(store, { recursive: true }).map(String).sort() : []);

describe('model install against a hostile Hub (CLI)', () => {
  it('HF_ENDPOINT with user:password@: exit 2, the password is never printed, no request is made', async () => {
    hub.reset();
    const store = join(tmp, 'store-endpoint');
    const r = await run(['model', 'install', 'test/qwen2', '--dir', store], { HF_ENDPOINT: hub.url.replace('http://', 'http://u:hf_PASSWORD123456@') });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`superdraft: usage error: HF_ENDPOINT ${hub.url} has credentials in it (user:password@), which are never sent; put a token in HF_TOKEN instead\n`);
    expect(r.stdout + r.stderr).not.toMatch(/PASSWORD|hf_PASS/);
    expect(hub.requests).toEqual([]);
    expect(stored(store)).toEqual([]);
  });

  it('HF_TOKEN with a line break: exit 2, the token is never printed, no request is made', async () => {
    hub.reset();
    const token = 'hf_SECRETabcdef\nghijkl0123';
    const r = await run(['model', 'install', 'test/qwen2', '--dir', join(tmp, 'store-token')], { HF_TOKEN: token });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('superdraft: usage error: the Hugging Face token does not look like one (it contains a line break, a space or a control character); check HF_TOKEN or set the token again\n');
    expect(r.stdout + r.stderr).not.toMatch(/SECRET|ghijkl/);
    expect(hub.requests).toEqual([]);
  });

  it('a file listed without a hash: exit 1 and nothing downloaded; with --allow-unverified installed, saying so', async () => {
    hub.reset();
    hub.faults = { tree: (es) => es.map((e) => (e.path === DATA ? { ...e, lfs: { size: e.lfs.size } } : e)) };
    const store = join(tmp, 'store-unverified');
    const refused = await run(['model', 'install', 'test/qwen2', '--dir', store]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`superdraft: error: test/qwen2 lists no sha256 or git blob id for ${DATA}, so it cannot be verified; nothing was downloaded (the CLI installs such files with --allow-unverified)\n`);
    expect(refused.stdout).toBe('');
    expect(hub.requests.filter((q) => q.path.includes('/resolve/'))).toEqual([]);
    expect(stored(store)).toEqual([]);
    const allowed = await run(['model', 'install', 'test/qwen2', '--dir', store, '--allow-unverified']);
    hub.faults = {};
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stderr).toContain(`warning: --allow-unverified: ${DATA} from test/qwen2 is installed UNVERIFIED (the Hub lists no hash for it)\n`);
    expect(allowed.stdout.trim().split('\n').at(-1)).toBe(join(store, 'qwen2'));
  });

  it('a body that drips a byte at a time: exit 1 within the limits (3 attempts), naming the file; the .part is kept to resume', async () => {
    hub.reset();
    hub.faults = { drip: [{ file: DATA, intervalMs: 20 }] };
    const store = join(tmp, 'store-drip');
    const r = await run(['model', 'install', 'test/qwen2', '--dir', store], FAST);
    hub.faults = {};
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/superdraft: error: onnx\/model_q4\.onnx_data: the download was interrupted after \d+ B of 168\.4 kB \(http:\/\/127\.0\.0\.1:\d+\/storage\/test\/qwen2\/onnx\/model_q4\.onnx_data: \d+ B in the last 0\.\d s, slower than the minimum 2\.0 kB\/s\)\. .* run the same install again to resume\n/);
    expect(r.ms).toBeLessThan(10_000);
    expect(hub.requests.filter((q) => q.path === `/storage/test/qwen2/${DATA}`).length).toBe(3);
    expect(existsSync(join(store, '.partial', 'qwen2', `${DATA}.part`))).toBe(true);
    expect(existsSync(join(store, 'qwen2'))).toBe(false);
  });

  it('model remove while an install holds the lock: exit 1, nothing removed', async () => {
    const store = join(tmp, 'store-lock');
    hub.reset();
    const ok = await run(['model', 'install', 'test/qwen2', '--dir', store]);
    expect(ok.code, ok.stderr).toBe(0);
    mkdirSync(join(store, '.partial', 'qwen2'), { recursive: true });
    writeFileSync(join(store, '.partial', 'qwen2.lock'), String(process.pid)); // a live process: this test's
    const r = await run(['model', 'remove', 'qwen2', '--dir', store]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`superdraft: error: qwen2 is being installed by another process (pid ${process.pid}); nothing was removed. Wait for it to finish, or stop it first\n`);
    expect(existsSync(join(store, 'qwen2', 'superdraft-model.json'))).toBe(true);
    expect(existsSync(join(store, '.partial', 'qwen2'))).toBe(true);
    rmSync(join(store, '.partial', 'qwen2.lock'));
    const after = await run(['model', 'remove', 'qwen2', '--dir', store]);
    expect(after.code, after.stderr).toBe(0);
    expect(existsSync(join(store, 'qwen2'))).toBe(false);
  });
});

describe('a hostile model folder (CLI)', () => {
  const folder = (name: string, edit?: (cfg: Record<string, unknown>) => Record<string, unknown>): string => {
    const d = join(tmp, name);
    cpSync(join(ROOT, 'test', 'fixtures', 'replicas', 'qwen2'), d, { recursive: true });
    if (edit) writeFileSync(join(d, 'config.json'), JSON.stringify(edit(JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')))));
    return d;
  };
  const complete = (d: string): Promise<Run> => run(['complete', '--file', 'examples/demo.ts', '--line', '40', '--column', '5', '--model', d, '--max-tokens', '2', '--strategy', 'greedy', '--verbose']);

  it('superdraft.ngrams pointing out of the folder: complete exits 1 naming the field; nothing of the outside file is printed', async () => {
    const outside = join(tmp, 'outside-ngrams.bin');
    writeFileSync(outside, 'root:x:OUTSIDE-MARKER\n');
    const d = folder('evil-ngrams', (c) => ({ ...c, superdraft: { ngrams: `../outside-ngrams.bin` } }));
    const r = await complete(d);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`config.json superdraft.ngrams names "../outside-ngrams.bin", which is outside the model folder; the model is refused (every file a model names must be inside its folder ${d})`);
    expect(r.stdout + r.stderr).not.toMatch(/OUTSIDE-MARKER|root:x|bad magic/);
  });

  it('superdraft.onnx.default pointing out of the folder: complete exits 1; the outside graph is not run', async () => {
    cpSync(join(ROOT, 'test', 'fixtures', 'replicas', 'qwen2', 'onnx', 'model_q4.onnx'), join(tmp, 'outside_model.onnx'));
    const d = folder('evil-onnx', (c) => ({ ...c, superdraft: { onnx: { default: '../outside_model.onnx' } } }));
    const r = await complete(d);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('config.json superdraft.onnx.default names "../outside_model.onnx", which is outside the model folder; the model is refused');
    expect(r.stdout + r.stderr).not.toMatch(/outside_model\.onnx\) on cpu/);
  });

  it('_name_or_path with terminal escapes: model info and complete print it without control characters', async () => {
    const d = folder('evil-name', (c) => ({ ...c, _name_or_path: 'evil\x1b]0;pwned\x07\x1b[2J' }));
    const info = await run(['model', 'info', d]);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout.split('\n')[0]).toBe(`evil\\x1b]0;pwned\\x07\\x1b[2J (${d})`);
    const c = await complete(d);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toContain('model evil\\x1b]0;pwned\\x07\\x1b[2J (model.onnx) on cpu');
    for (const out of [info.stdout, info.stderr, c.stdout, c.stderr]) expect(out).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
  });

  it('model info on a garbage graph and prepare on a zero-byte graph: exit 1 naming the file', async () => {
    const g = folder('garbage');
    writeFileSync(join(g, 'onnx', 'model_q4.onnx'), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02]));
    const info = await run(['model', 'info', g]);
    expect(info.code).toBe(1);
    expect(info.stderr).toMatch(new RegExp(`^superdraft: error: ${join(g, 'onnx', 'model_q4.onnx').replace(/[.]/g, '\\.')}: not a readable ONNX model \\(.+\\)\\n$`));
    const z = folder('zero');
    writeFileSync(join(z, 'onnx', 'model_q4.onnx'), '');
    const prep = await run(['model', 'prepare', z]);
    expect(prep.code).toBe(1);
    expect(prep.stderr).toBe(`superdraft: error: ${join(z, 'onnx', 'model_q4.onnx')}: not an ONNX model (no graph)\n`);
  });
});
