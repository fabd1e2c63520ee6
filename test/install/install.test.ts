/**
 * installModel against a loopback Hub (test/helpers/hubServer.ts: real node:http; the client is src/install/net.ts)
 * serving the committed tiny replicas: a full install that the real engine then loads and completes with, resume
 * after a cut connection (Range request, fewer bytes), a corrupted byte, a missing repository, a gated repository
 * without/with a token, a repository without ONNX files, too little disk space, and a cancel mid-download.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine';
import { ModelInstallError } from '../../src/install/errors';
import { installModel, type InstallOptions } from '../../src/install/install';
import { MANIFEST, listInstalled, listPartial, removeInstalled, removePartial } from '../../src/install/store';
import { LoopbackHub } from '../helpers/hubServer';
import { REPLICAS } from '../helpers/paths';

const tmp = mkdtempSync(path.join(tmpdir(), 'sd-install-'));
const repoDir = (replica: string): string => {
  const d = path.join(tmp, 'hub', replica);
  if (!existsSync(d)) cpSync(path.join(REPLICAS, replica), d, { recursive: true });
  return d;
};
const textOnly = path.join(tmp, 'hub', 'text-only');
mkdirSync(textOnly, { recursive: true });
writeFileSync(path.join(textOnly, 'README.md'), '# a model card only\n');
writeFileSync(path.join(textOnly, 'config.json'), '{"model_type":"qwen2"}\n');
writeFileSync(path.join(textOnly, 'model.safetensors'), Buffer.alloc(20_000, 1));

const hub = new LoopbackHub({
  'test/qwen2': { dir: repoDir('qwen2') },
  'test/llama': { dir: repoDir('llama') },
  'test/gated': { dir: repoDir('starcoder2'), gated: true },
  'test/text-only': { dir: textOnly },
  'test/xet': { dir: repoDir('gpt_bigcode'), xet: true },
});
let store: string;
let n = 0;

beforeAll(async () => {
  await hub.start();
});
afterAll(async () => {
  await hub.stop();
  rmSync(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  hub.reset();
  store = path.join(tmp, `store-${n++}`);
});

const opts = (o: Partial<InstallOptions> & { source: string }): InstallOptions => ({ store, endpoint: hub.url, retries: 0, ...o });
const leftovers = (): string[] => (existsSync(path.join(store, '.partial')) ? readdirSync(path.join(store, '.partial')) : []);
const sha256 = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');

describe('installModel against a loopback Hub', () => {
  it('installs the q4 variant on CPU, verified and prepared; the real engine completes with it', async () => {
    const progress: number[] = [];
    const r = await installModel(opts({ source: 'test/qwen2', onProgress: (p) => p.phase === 'downloading' && progress.push(p.bytes) }));
    expect(r).toMatchObject({ name: 'qwen2', variant: 'q4', already: false, dir: path.join(store, 'qwen2') });
    const files = readdirSync(r.dir, { recursive: true }).map(String).sort();
    // with the 8-bit-activation companion prepare wrote next to the 4-bit graph (it reads the same weights file)
    expect(files).toEqual(['config.json', 'generation_config.json', 'onnx', 'onnx/model_q4.onnx', 'onnx/model_q4.onnx_data', 'onnx/model_q4a8.onnx', MANIFEST, 'tokenizer.json', 'tokenizer_config.json'].sort());
    // External data is byte-identical to the Hub's (prepare rewrites only the graph).
    expect(sha256(path.join(r.dir, 'onnx/model_q4.onnx_data'))).toBe(sha256(path.join(REPLICAS, 'qwen2/onnx/model_q4.onnx_data')));
    const manifest = JSON.parse(readFileSync(path.join(r.dir, MANIFEST), 'utf8'));
    expect(manifest).toMatchObject({ name: 'qwen2', variant: 'q4', source: { repo: 'test/qwen2', revision: 'main', endpoint: hub.url } });
    expect(manifest.bytes).toBe(r.bytes);
    expect(progress.at(-1)).toBe(r.bytes);
    expect(leftovers()).toEqual([]);
    // Downloads went through resolve → 302 → storage; fp32 files were never fetched.
    expect(hub.requests.some((q) => q.path === '/test/qwen2/resolve/main/onnx/model_q4.onnx_data' && q.status === 302)).toBe(true);
    expect(hub.requests.some((q) => q.path.includes('onnx/model.onnx'))).toBe(false);
    expect(listInstalled(store).map((m) => [m.name, m.variant, m.source])).toEqual([['qwen2', 'q4', 'test/qwen2@main']]);

    const engine = await Engine.load({ modelDir: r.dir, device: 'cpu' });
    try {
      // on the CPU the engine runs the companion
      expect(engine.config.modelFile).toBe(path.join(r.dir, 'onnx', 'model_q4a8.onnx'));
      const res = await engine.complete({ prefix: 'def add(a, b):\n    return ', suffix: '', strategy: 'superposed', k: 3, maxTokens: 6, mode: 'line', speculative: false, languageId: 'python', path: 'a.py', ignoreStop: true });
      expect(res.drafts.length).toBeGreaterThan(0);
      expect(res.drafts[0].tokens).toBeGreaterThan(0);
    } finally {
      await engine.dispose();
    }
    // A second install of the same thing downloads nothing; remove takes it out of the list.
    hub.reset();
    expect((await installModel(opts({ source: 'test/qwen2' }))).already).toBe(true);
    expect(hub.requests.filter((q) => q.path.includes('/resolve/'))).toEqual([]);
    removeInstalled(store, 'qwen2');
    expect(listInstalled(store)).toEqual([]);
    expect(existsSync(r.dir)).toBe(false);
  });

  it('a Xet-backed repository (the Hub answers the size probe with Xet file info) downloads through resolve', async () => {
    const r = await installModel(opts({ source: 'test/xet' }));
    expect(r).toMatchObject({ name: 'xet', variant: 'fp32' });
    expect(sha256(path.join(r.dir, 'onnx/model.onnx_data'))).toBe(sha256(path.join(REPLICAS, 'gpt_bigcode/onnx/model.onnx_data')));
    expect(hub.requests.some((q) => q.path.startsWith('/xet/'))).toBe(false);
    expect(hub.requests.some((q) => q.path === '/test/xet/resolve/main/onnx/model.onnx_data' && q.status === 302)).toBe(true);
  });

  it('one install per name at a time: a live owner\'s lock refuses, a dead owner\'s lock is taken over; partial downloads are listed and removable', async () => {
    mkdirSync(path.join(store, '.partial'), { recursive: true });
    const lockFile = path.join(store, '.partial', 'qwen2.lock');
    writeFileSync(lockFile, String(process.pid));
    await expect(installModel(opts({ source: 'test/qwen2' }))).rejects.toThrow(`qwen2 is being installed by another process (pid ${process.pid})`);
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(lockFile, dead.stdout);
    hub.faults = { cut: [{ file: 'onnx/model_q4.onnx_data', after: 40_000 }] };
    await expect(installModel(opts({ source: 'test/qwen2' }))).rejects.toMatchObject({ code: 'network' });
    expect(existsSync(lockFile)).toBe(false);
    const partial = listPartial(store);
    expect(partial.map((p) => p.name)).toEqual(['qwen2']);
    expect(partial[0].bytes).toBeGreaterThanOrEqual(40_000);
    expect(removePartial(store, 'qwen2')).toBe(partial[0].bytes);
    expect(listPartial(store)).toEqual([]);
  });

  it('another variant of an installed model needs another name', async () => {
    await installModel(opts({ source: 'test/qwen2' }));
    await expect(installModel(opts({ source: 'test/qwen2', variant: 'fp32' }))).rejects.toMatchObject({
      code: 'exists',
      message: expect.stringMatching(/a model named qwen2 is already installed at .*\(test\/qwen2@main, q4\); remove it first \(superdraft model remove qwen2\) or choose another name/),
    });
    const r = await installModel(opts({ source: 'test/qwen2', variant: 'fp32', name: 'qwen2-fp32' }));
    expect(readdirSync(path.join(r.dir, 'onnx')).sort()).toEqual(['model.onnx', 'model.onnx_data']);
    expect(listInstalled(store).map((m) => `${m.name}:${m.variant}`)).toEqual(['qwen2:q4', 'qwen2-fp32:fp32']);
  });

  it('resumes a file after the connection is cut: the second run sends a Range request and transfers fewer bytes', async () => {
    const file = 'onnx/model.onnx_data';
    const size = statSync(path.join(REPLICAS, 'llama', file)).size;
    hub.faults = { cut: [{ file, after: 300_000 }] };
    const first = installModel(opts({ source: 'test/llama', variant: 'fp32' }));
    await expect(first).rejects.toMatchObject({ code: 'network', message: expect.stringMatching(/onnx\/model\.onnx_data: the download was interrupted .*run the same install again to resume/s) });
    expect(existsSync(path.join(store, 'llama'))).toBe(false);
    const part = path.join(store, '.partial', 'llama', `${file}.part`);
    // What reached the disk resumes: at most the 300,000 bytes sent before the cut (bytes still queued in the response
    // stream when the connection ends are dropped with it; under load CI saw 261,881).
    const kept = statSync(part).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(300_000);
    const sentBefore = hub.bytesSent.get(file)!;

    hub.requests.length = 0;
    hub.bytesSent.clear();
    const r = await installModel(opts({ source: 'test/llama', variant: 'fp32' }));
    expect(r.variant).toBe('fp32');
    const ranged = hub.requests.filter((q) => q.path.startsWith('/storage/') && q.path.endsWith(file) && q.range);
    expect(ranged.map((q) => q.range)).toEqual([`bytes=${kept}-${size - 1}`]);
    expect(hub.bytesSent.get(file)!).toBe(size - kept); // exactly the rest: no size probe (src/install/net.ts)
    expect(hub.bytesSent.get(file)!).toBeLessThan(size);
    expect(sentBefore).toBeGreaterThanOrEqual(300_000);
    expect(sha256(path.join(r.dir, file))).toBe(sha256(path.join(REPLICAS, 'llama', file)));
    expect(leftovers()).toEqual([]);
  });

  it('retries within one run after a cut (retries > 0), resuming with a Range request', async () => {
    hub.faults = { cut: [{ file: 'onnx/model_q4.onnx_data', after: 50_000 }] };
    const r = await installModel(opts({ source: 'test/llama', retries: 1 }));
    expect(r.variant).toBe('q4');
    expect(hub.requests.some((q) => q.path.endsWith('onnx/model_q4.onnx_data') && q.range?.startsWith('bytes=50000-'))).toBe(true);
  });

  it('a server that ignores Range: the resumed attempt gets the whole file, and the next one starts the file over', async () => {
    const file = 'onnx/model_q4.onnx_data';
    hub.faults = { cut: [{ file, after: 50_000 }], ignoreRange: [file] };
    const r = await installModel(opts({ source: 'test/qwen2', retries: 2 }));
    const seen = hub.requests.filter((q) => q.path.startsWith('/storage/') && q.path.endsWith(file)).map((q) => `${q.range ?? 'full'} ${q.status}`);
    expect(seen.filter((x) => x.startsWith('bytes=50000-'))).toEqual([expect.stringMatching(/ 200$/)]);
    expect(seen.at(-1)).toBe('full 200');
    expect(sha256(path.join(r.dir, file))).toBe(sha256(path.join(REPLICAS, 'qwen2', file)));
  });

  it('refuses a corrupted byte: sha256 mismatch names the file, the file is deleted, nothing installed', async () => {
    hub.faults = { corrupt: [{ file: 'onnx/model_q4.onnx_data', at: 1234 }] };
    const err = await installModel(opts({ source: 'test/qwen2' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelInstallError);
    expect((err as ModelInstallError).code).toBe('integrity');
    expect((err as Error).message).toMatch(/onnx\/model_q4\.onnx_data is corrupt: its sha256 is [0-9a-f]{64}, the Hub lists [0-9a-f]{64}/);
    expect(existsSync(path.join(store, 'qwen2'))).toBe(false);
    expect(existsSync(path.join(store, '.partial', 'qwen2', 'onnx', 'model_q4.onnx_data'))).toBe(false);
    expect(existsSync(path.join(store, '.partial', 'qwen2', 'onnx', 'model_q4.onnx_data.part'))).toBe(false);
    expect(listInstalled(store)).toEqual([]);
    // A small file kept in git is checked against its git blob id.
    store = path.join(tmp, `store-${n++}`);
    hub.faults = { corrupt: [{ file: 'generation_config.json', at: 3 }] };
    await expect(installModel(opts({ source: 'test/qwen2' }))).rejects.toThrow(/generation_config\.json is corrupt: its git blob id/);
  });

  it('names a repository that does not exist', async () => {
    await expect(installModel(opts({ source: 'test/nope' }))).rejects.toMatchObject({
      code: 'not_found',
      message: expect.stringMatching(/repository test\/nope \(revision main\) was not found on http:\/\/127\.0\.0\.1:\d+/),
    });
    await expect(installModel(opts({ source: 'not a repo' }))).rejects.toMatchObject({ code: 'bad_input' });
    expect(existsSync(store) ? readdirSync(store).filter((f) => !f.startsWith('.')) : []).toEqual([]);
  });

  it('gated repository: without a token it says how to set one; a wrong token is refused; the right one installs; the token is never in a message', async () => {
    const noToken = await installModel(opts({ source: 'test/gated' })).catch((e: Error) => e);
    expect(noToken).toMatchObject({ code: 'auth', message: expect.stringMatching(/test\/gated is gated or private: it needs a Hugging Face token.*HF_TOKEN/) });
    const wrong = 'hf_wrongwrongwrongwrong';
    const bad = await installModel(opts({ source: 'test/gated', token: wrong })).catch((e: Error) => e);
    expect(bad).toMatchObject({ code: 'forbidden', message: expect.stringMatching(/the token has no access to test\/gated \(403\)/) });
    expect((bad as Error).message).not.toContain(wrong);
    const notAToken = await installModel(opts({ source: 'test/gated', token: 'secret-123' })).catch((e: Error) => e);
    expect(notAToken).toMatchObject({ code: 'bad_input' });
    expect((notAToken as Error).message).not.toContain('secret-123');
    const r = await installModel(opts({ source: 'test/gated', token: hub.token }));
    expect(r.name).toBe('gated');
    expect(hub.requests.filter((q) => q.path.includes('/resolve/')).every((q) => q.authorized)).toBe(true);
    expect(readFileSync(path.join(r.dir, MANIFEST), 'utf8')).not.toContain(hub.token);
  });

  it('a repository with no ONNX files: the message lists what is there', async () => {
    await expect(installModel(opts({ source: 'test/text-only' }))).rejects.toMatchObject({
      code: 'no_onnx',
      message: expect.stringMatching(/test\/text-only has no ONNX model .*it has config\.json \(\d+ B\), model\.safetensors \(20\.0 kB\), README\.md \(20 B\)/),
    });
    await expect(installModel(opts({ source: 'test/qwen2', variant: 'q4f16' }))).rejects.toThrow(/test\/qwen2 has no q4f16 variant; it has fp32, q4/);
  });

  it('no space left: a listed file larger than the free space is refused before any download', async () => {
    hub.faults = { listedSize: [{ file: 'onnx/model_q4.onnx_data', size: 2 ** 52 }] };
    await expect(installModel(opts({ source: 'test/qwen2' }))).rejects.toMatchObject({
      code: 'no_space',
      message: expect.stringMatching(new RegExp(`not enough disk space in ${store.replace(/[/.]/g, '\\$&')} for test/qwen2 \\(q4\\).*Nothing was downloaded`)),
    });
    expect(hub.requests.filter((q) => q.path.includes('/resolve/') || q.path.startsWith('/storage/'))).toEqual([]);
    expect(listInstalled(store)).toEqual([]);
  });

  it('warns when the model will not fit in memory', async () => {
    const warnings: string[] = [];
    await installModel(opts({ source: 'test/qwen2', memory: 1000, onWarning: (w) => warnings.push(w) }));
    expect(warnings).toEqual([expect.stringMatching(/test\/qwen2 \(q4\) needs about .* of memory to run; this machine has 1\.0 kB/)]);
  });

  it('cancel mid-download leaves nothing behind; a later install works', async () => {
    hub.faults = { slow: [{ file: 'onnx/model_q4.onnx_data', delayMs: 15 }] };
    const ac = new AbortController();
    const p = installModel(opts({
      source: 'test/qwen2',
      signal: ac.signal,
      onProgress: (q) => {
        if (q.file === 'onnx/model_q4.onnx_data' && q.bytes > 0 && !ac.signal.aborted) ac.abort();
      },
    }));
    await expect(p).rejects.toMatchObject({ code: 'cancelled' });
    expect(leftovers()).toEqual([]);
    expect(listInstalled(store)).toEqual([]);
    expect(hub.bytesSent.get('onnx/model_q4.onnx_data') ?? 0).toBeLessThan(statSync(path.join(REPLICAS, 'qwen2/onnx/model_q4.onnx_data')).size);
    hub.faults = {};
    const r = await installModel(opts({ source: 'test/qwen2' }));
    expect(existsSync(path.join(r.dir, 'onnx/model_q4.onnx_data'))).toBe(true);
  });
});
