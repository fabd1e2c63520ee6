/**
 * The real inference process (dist/server.js, built here) with the real embedded model, driven through the real
 * JSON-RPC client the extension uses: completes, indexes, cancels, supersedes, is killed and restarts, stops.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancellationTokenSource, StreamMessageReader, StreamMessageWriter, createMessageConnection } from 'vscode-jsonrpc/node';
import { CompletionPipeline, type DocInput } from '../../src/extension/completions/pipeline';
import { ClientError, InferenceClient, RestartPolicy, type ClientState } from '../../src/extension/process/client';
import { DEFAULT_SETTINGS } from '../../src/extension/settings';
import { Methods, type CompletionRequest, type CompletionResponse, type InitializeResult } from '../../src/protocol';
import { ROOT } from '../helpers/paths';

const SERVER = join(ROOT, 'dist', 'server.js');
const logs: string[] = [];
/** The embedded model (models/default) unless SUPERDRAFT_MODEL_DIR names another model directory. */
const MODEL_DIR = process.env.SUPERDRAFT_MODEL_DIR || '';

const req = (over: Partial<CompletionRequest> = {}): CompletionRequest => ({
  prefix: 'export function clamp(value: number, min: number, max: number): number {\n  ',
  suffix: '\n}\n',
  languageId: 'typescript',
  path: 'src/util.ts',
  strategy: 'superposed',
  k: 3,
  maxTokens: 32,
  mode: 'auto',
  speculative: true,
  ...over,
});

function waitForState(client: InferenceClient, want: ClientState, timeoutMs = 60_000): Promise<void> {
  if (client.state === want) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      sub.dispose();
      reject(new Error(`state stayed ${client.state}, wanted ${want}`));
    }, timeoutMs);
    const sub = client.onState((s) => {
      if (s === want) {
        clearTimeout(t);
        sub.dispose();
        resolve();
      }
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let client: InferenceClient;

beforeAll(async () => {
  if (!existsSync(SERVER)) throw new Error('dist/server.js was not built');
  if (!MODEL_DIR && !existsSync(join(ROOT, 'models', 'default', 'config.json'))) throw new Error('models/default is missing: the embedded model must be trained first');
  client = new InferenceClient({
    serverPath: SERVER,
    init: () => ({ modelPath: MODEL_DIR, device: 'cpu', workspaceNgrams: true }),
    log: (level, m) => logs.push(`${level} ${m}`),
    policy: new RestartPolicy(3, 60_000, 100, 1000),
  });
});

afterAll(async () => {
  await client?.stop();
});

describe('inference process through the JSON-RPC client', () => {
  it('starts, reports the model, and completes with k drafts', async () => {
    const info = await client.start();
    expect(client.state).toBe('ready');
    expect(info.model.length).toBeGreaterThan(0);
    expect(info.device).toBe('cpu');
    expect(client.pid).toBeGreaterThan(0);
    expect(client.pid).not.toBe(process.pid);
    const res = await client.complete(req());
    expect(res.strategy).toBe('superposed');
    expect(res.drafts.length).toBeGreaterThanOrEqual(1);
    expect(res.drafts.length).toBeLessThanOrEqual(3);
    for (const d of res.drafts) {
      expect(typeof d.text).toBe('string');
      expect(d.tokens).toBeGreaterThan(0);
      expect(Number.isFinite(d.score)).toBe(true);
    }
    expect(res.timing.forwards).toBeGreaterThan(0);
    expect(client.latency.get('superposed')).toBeGreaterThan(0);
    // Same prompt again: the prompt's KV cache is reused in the server.
    const again = await client.complete(req({ strategy: 'greedy', k: 1 }));
    expect(again.timing.reusedTokens).toBeGreaterThan(0);
  });

  it('indexes workspace files and reports diagnostics from the same process', async () => {
    const r = await client.indexFiles({ files: [{ path: 'src/a.ts', text: 'export const answer = 42;\nexport const question = "?";\n' }], replace: true });
    expect(r.files).toBe(1);
    expect(r.tokens).toBeGreaterThan(5);
    const d = await client.diagnostics();
    expect(d.pid).toBe(client.pid);
    expect(d.ngrams.workspaceFiles).toBeGreaterThanOrEqual(1);
    expect(d.requests).toBeGreaterThanOrEqual(2);
  });

  it('rejects an invalid request with a clear error and stays up', async () => {
    await expect(client.complete(req({ k: 0 }))).rejects.toMatchObject({ code: 'invalid_request' });
    expect(client.state).toBe('ready');
  });

  it('cancels a queued request: the server answers "cancelled" and keeps serving', async () => {
    const running = client.complete(req({ strategy: 'beam', k: 4, maxTokens: 48 }));
    const cts = new CancellationTokenSource();
    const queued = client.complete(req({ prefix: req().prefix + 'if (', strategy: 'greedy', k: 1 }), cts.token);
    cts.cancel();
    await expect(queued).rejects.toMatchObject({ code: 'cancelled' });
    expect((await running).drafts.length).toBeGreaterThanOrEqual(1);
    expect(client.cancelled).toBeGreaterThanOrEqual(1);
  });

  it('cancels a running request within a decode step', async () => {
    const long = req({ strategy: 'greedy', k: 1, maxTokens: 400, mode: 'block', speculative: false, ignoreStop: true, prefix: '// The first 500 numbers, one per line\nconst numbers = [\n  1,\n  2,\n  3,\n', suffix: '' });
    const t0 = performance.now();
    const full = await client.complete(long);
    const fullMs = performance.now() - t0;
    logs.push(`uncancelled: ${fullMs.toFixed(0)} ms, ${full.timing.forwards} forwards`);
    // Precondition: the uncancelled request does enough work to be interrupted.
    expect(full.timing.forwards).toBeGreaterThan(20);
    const cts = new CancellationTokenSource();
    const t1 = performance.now();
    const p = client.complete({ ...long, prefix: long.prefix + '  4,\n' }, cts.token);
    setTimeout(() => cts.cancel(), Math.min(30, fullMs / 4));
    await expect(p).rejects.toMatchObject({ code: 'cancelled' });
    const cancelMs = performance.now() - t1;
    expect(cancelMs).toBeLessThan(fullMs);
    // The process keeps serving.
    expect((await client.complete(req({ strategy: 'greedy', k: 1 }))).strategy).toBe('greedy');
  });

  it('a newer request for the same document supersedes (cancels) older ones (the pipeline\'s in-flight registry)', async () => {
    const pipeline = new CompletionPipeline(client, () => ({ ...DEFAULT_SETTINGS, debounceMs: 0, prefetch: false }), { debug() {}, warn() {} });
    const base = 'def total(items):\n    result = 0\n    for item in items:\n        ';
    const doc = (text: string): DocInput => ({
      uri: 'file:///calc.py',
      languageId: 'python',
      text: { length: text.length, slice: (a, b) => text.slice(a, b) },
      offset: text.length,
      details: () => ({ path: 'calc.py', snippets: [] }),
    });
    const never = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose() {} }) };
    const out = await Promise.all(['r', 're', 'res', 'resu'].map((t) => pipeline.draftsAt(doc(base + t), { kind: 'provider' }, never)));
    expect(out[3]?.drafts.length).toBeGreaterThan(0);
    // Superseded requests are cancelled while queued or running; at most the first may finish before the next arrives.
    expect(out.slice(0, 3).filter((o) => o === undefined).length).toBeGreaterThanOrEqual(2);
  });

  it('restarts after being killed, fails pending requests instead of hanging', async () => {
    const oldPid = client.pid!;
    const pending = client.complete(req({ strategy: 'greedy', k: 1, maxTokens: 400, mode: 'block', speculative: false }));
    client.kill('SIGKILL');
    // A killed process is a crash (restarted), not an error of the request.
    await expect(pending).rejects.toMatchObject({ code: 'crashed' });
    expect(client.state).toBe('starting');
    await waitForState(client, 'ready');
    expect(client.pid).toBeGreaterThan(0);
    expect(client.pid).not.toBe(oldPid);
    expect(alive(oldPid)).toBe(false);
    expect(client.restarts).toBe(1);
    const res = await client.complete(req());
    expect(res.drafts.length).toBeGreaterThanOrEqual(1);
    expect(logs.some((l) => l.includes('restarting in'))).toBe(true);
  });

  it('gives up after too many crashes (error state) and recovers on a manual restart', async () => {
    const c = new InferenceClient({
      serverPath: SERVER,
      init: () => ({ modelPath: MODEL_DIR, device: 'cpu', workspaceNgrams: false }),
      policy: new RestartPolicy(1, 60_000, 50, 50),
    });
    try {
      await c.start();
      c.kill();
      await waitForState(c, 'starting', 5000);
      await waitForState(c, 'ready');
      c.kill();
      await waitForState(c, 'error', 5000);
      expect(c.lastError).toMatch(/crashed 2 times/);
      await expect(c.complete(req())).rejects.toMatchObject({ code: 'not_ready' });
      await c.restart();
      expect(c.state).toBe('ready');
    } finally {
      await c.stop();
    }
  });

  it('detects a stopped (SIGSTOP) process by its heartbeat, kills it and starts a new one, with the reason shown', async () => {
    const HEARTBEAT_MS = 250;
    const TIMEOUT_MS = 2000;
    const states: string[] = [];
    const c = new InferenceClient({
      serverPath: SERVER,
      init: () => ({ modelPath: MODEL_DIR, device: 'cpu', workspaceNgrams: false }),
      policy: new RestartPolicy(3, 60_000, 50, 50),
      heartbeatIntervalMs: HEARTBEAT_MS,
      heartbeatTimeoutMs: TIMEOUT_MS,
    });
    c.onState((s) => states.push(`${s}${c.stateReason ? `: ${c.stateReason}` : ''}`));
    try {
      await c.start();
      // A healthy process answers its heartbeats: several intervals pass without a restart.
      await new Promise((r) => setTimeout(r, HEARTBEAT_MS * 6));
      expect(c.hangs).toBe(0);
      expect(c.restarts).toBe(0);
      const oldPid = c.pid!;
      const pending = c.complete(req({ strategy: 'greedy', k: 1 }));
      const t0 = performance.now();
      process.kill(oldPid, 'SIGSTOP');
      await waitForState(c, 'starting', TIMEOUT_MS + HEARTBEAT_MS + 10_000);
      const detectMs = performance.now() - t0;
      await expect(pending).rejects.toMatchObject({ code: 'crashed' });
      await waitForState(c, 'ready');
      const replaceMs = performance.now() - t0;
      logs.push(`SIGSTOP detected in ${Math.round(detectMs)} ms, replaced (ready) in ${Math.round(replaceMs)} ms`);
      console.log(`SIGSTOP: detected in ${Math.round(detectMs)} ms (heartbeat ${HEARTBEAT_MS} ms, timeout ${TIMEOUT_MS} ms), ready again in ${Math.round(replaceMs)} ms`);
      // Detected no earlier than the timeout and within it plus one interval (and scheduling slack on a busy machine).
      expect(detectMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
      expect(detectMs).toBeLessThan(TIMEOUT_MS + HEARTBEAT_MS + 3000);
      expect(c.hangs).toBe(1);
      expect(c.restarts).toBe(1);
      expect(states.some((s) => s.startsWith('starting: restarting') && s.includes('stopped responding'))).toBe(true);
      expect(c.pid).not.toBe(oldPid);
      await new Promise((r) => setTimeout(r, 200));
      expect(alive(oldPid)).toBe(false);
      expect((await c.complete(req({ strategy: 'greedy', k: 1 }))).drafts.length).toBeGreaterThanOrEqual(1);
    } finally {
      await c.stop();
    }
  });

  it('a start the server rejects (invalid parameters) leaves no process behind and no restart loop', async () => {
    const started: number[] = [];
    const c = new InferenceClient({
      serverPath: SERVER,
      init: () => ({ modelPath: MODEL_DIR, device: 'quantum' as never, workspaceNgrams: false }),
      log: (_l, m) => {
        const pid = /inference process started \(pid (\d+)\)/.exec(m)?.[1];
        if (pid) started.push(Number(pid));
      },
    });
    try {
      for (let i = 0; i < 3; i++) {
        const err = await c.start().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(ClientError);
        expect((err as ClientError).code).toBe('invalid_request');
        expect((err as Error).message).toContain('quantum');
        expect(c.state).toBe('error');
        expect(c.lastError).toContain('quantum');
      }
      expect(started.length).toBe(3);
      const deadline = Date.now() + 5000;
      while (started.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(started.filter(alive)).toEqual([]);
      expect(c.restarts).toBe(0);
    } finally {
      await c.stop();
    }
    expect(started.filter(alive)).toEqual([]);
  });

  it('reports a missing model as a model load error without restart loops', async () => {
    const c = new InferenceClient({
      serverPath: SERVER,
      init: () => ({ modelPath: '/nonexistent/superdraft-model', device: 'cpu', workspaceNgrams: false }),
    });
    const err = await c.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ClientError);
    expect((err as ClientError).code).toBe('model_load');
    expect((err as Error).message).toContain('/nonexistent/superdraft-model');
    expect(c.state).toBe('error');
    expect(c.modelLoadFailed).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(c.restarts).toBe(0);
    expect(c.pid).toBeUndefined();
    await c.stop();
  });

  it('serves the same protocol over stdio when started without IPC', async () => {
    const child = spawn(process.execPath, [SERVER], { stdio: ['pipe', 'pipe', 'pipe'] });
    const conn = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
    conn.listen();
    try {
      const info = await conn.sendRequest<InitializeResult>(Methods.initialize, { modelPath: MODEL_DIR, device: 'cpu', workspaceNgrams: false });
      expect(info.device).toBe('cpu');
      const res = await conn.sendRequest<CompletionResponse>(Methods.complete, req({ strategy: 'greedy', k: 1 }));
      expect(res.strategy).toBe('greedy');
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      await conn.sendRequest(Methods.shutdown);
      expect(await exited).toBe(0);
    } finally {
      conn.dispose();
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('stops gracefully: the process exits', async () => {
    const pid = client.pid!;
    await client.stop();
    expect(client.state).toBe('stopped');
    expect(alive(pid)).toBe(false);
  });
});

describe('client-side checks', () => {
  it('refuses NaN or Infinity in a request instead of letting JSON turn them into defaults', async () => {
    const c = new InferenceClient({ serverPath: SERVER, init: () => ({ modelPath: MODEL_DIR, device: 'cpu', workspaceNgrams: false }) });
    // Checked before anything is sent: no process is needed.
    await expect(c.complete(req({ k: NaN }))).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringContaining('"k"') });
    await expect(c.complete(req({ temperature: Infinity }))).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringContaining('"temperature"') });
  });
});
