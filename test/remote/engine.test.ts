/**
 * The remote backend as the extension's engine (src/extension/remote/remoteEngine.ts) under the real request pipeline
 * (completions/pipeline.ts), against the loopback servers: drafts at a cursor, typing-as-suggested from the cache,
 * a keystroke's cancellation that the server sees within 50 ms, supersession by the next request, errors that set
 * one state and one notification (no exception per keystroke), retry with backoff for an unreachable server, and the
 * DraftSource switch between the local client and the server. Prints keystroke → drafts p50/p95.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CompletionPipeline, type DocInput } from '../../src/extension/completions/pipeline';
import { ClientError, type TokenLike } from '../../src/extension/process/client';
import { DEFAULT_SETTINGS, type Settings } from '../../src/extension/settings';
import { RemoteEngine } from '../../src/extension/remote/remoteEngine';
import { DraftSource } from '../../src/extension/remote/draftSource';
import type { RemoteError } from '../../src/remote/errors';
import { COMPLETIONS, llamaCppServer, ollamaServer, openAiServer, type LoopbackServer } from './servers';

const servers: LoopbackServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

function doc(text: string, uri = 'file:///w/math.js'): DocInput {
  return { uri, languageId: 'javascript', text: { length: text.length, slice: (s, e) => text.slice(s, e) }, offset: text.length, details: () => ({ path: 'math.js', snippets: [] }) };
}

/** A cancellation token like VS Code's. */
function tokenSource(): { token: TokenLike; cancel(): void } {
  const listeners = new Set<() => void>();
  const token = {
    isCancellationRequested: false,
    onCancellationRequested(l: () => void) {
      listeners.add(l);
      return { dispose: () => listeners.delete(l) };
    },
  };
  return {
    token,
    cancel() {
      token.isCancellationRequested = true;
      for (const l of [...listeners]) l();
    },
  };
}
const never = tokenSource().token;

const settings: Settings = { ...DEFAULT_SETTINGS, strategy: 'sampling', drafts: 3, debounceMs: 0, copyDrafts: false, backend: 'ollama' };
const log = { debug() {}, warn() {} };

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
}

describe('RemoteEngine under the request pipeline', () => {
  for (const backend of ['llama.cpp', 'ollama', 'openai'] as const) {
    it(`${backend}: k drafts at the cursor, typing-as-suggested from the cache; keystroke → drafts p50/p95`, async () => {
      const model = 'qwen2.5-coder:1.5b-base';
      const s = backend === 'llama.cpp' ? await llamaCppServer({ slots: 4 }) : backend === 'ollama' ? await ollamaServer({ models: [model] }) : await openAiServer({ models: [model] });
      servers.push(s);
      const engine = new RemoteEngine();
      engine.configure({ backend, endpoint: s.url, model, fim: 'auto' });
      const pipeline = new CompletionPipeline(engine, () => ({ ...settings, backend }), log);
      const text = 'function add(a, b) {\n  ';
      const r = await pipeline.draftsAt(doc(text), { kind: 'provider' }, never);
      expect(r!.drafts.map((d) => d.text)).toHaveLength(3);
      expect(r!.drafts[0]!.text).toBe(COMPLETIONS[0]);
      const sent = s.requests.length;
      const typed = await pipeline.draftsAt(doc(text + 'ret'), { kind: 'provider' }, never);
      expect(typed!.source).toBe('cache');
      expect(typed!.drafts[0]!.text).toBe('urn a + b;');
      expect(s.requests.length).toBe(sent);
      // keystroke → drafts: a new position each time (no cache), one request at a time
      const ms: number[] = [];
      for (let i = 0; i < 40; i++) {
        const t0 = performance.now();
        const res = await pipeline.draftsAt(doc(`// ${i}\n${text}`, `file:///w/f${i}.js`), { kind: 'keystroke' }, never);
        ms.push(performance.now() - t0);
        expect(res!.drafts.length).toBe(3);
      }
      process.stderr.write(`[keystroke → drafts, loopback ${backend}, k=3] p50 ${pct(ms, 0.5).toFixed(1)} ms, p95 ${pct(ms, 0.95).toFixed(1)} ms\n`);
    });

    it(`${backend}: a keystroke cancels the request; the server sees the close within 50 ms; the next request supersedes`, async () => {
      const model = 'qwen2.5-coder:1.5b-base';
      const b = { delayMs: 3_000 };
      const s = backend === 'llama.cpp' ? await llamaCppServer({ slots: 4, ...b }) : backend === 'ollama' ? await ollamaServer({ models: [model], ...b }) : await openAiServer({ models: [model], ...b });
      servers.push(s);
      const engine = new RemoteEngine();
      engine.configure({ backend, endpoint: s.url, model, fim: 'auto' });
      const pipeline = new CompletionPipeline(engine, () => ({ ...settings, backend }), log);
      const expected = backend === 'ollama' ? 3 : 1;
      const posts = () => s.requests.filter((q) => q.method === 'POST').length;
      const delays: number[] = [];
      // i = 0 warms the abort path up (its delay is printed, not asserted: on a loaded 2-core CI machine the first
      // abort of a process has measured up to 40 ms, the next ones 1-10 ms)
      for (let i = 0; i < 6; i++) {
        const cts = tokenSource();
        const before = posts();
        const p = pipeline.draftsAt(doc(`let v${i} = `), { kind: 'provider' }, cts.token);
        while (posts() < before + expected) await new Promise((r) => setTimeout(r, 2));
        const closed = s.nextEarlyClose();
        const t0 = performance.now();
        cts.cancel(); // the keystroke
        expect(await p).toBeUndefined();
        delays.push((await closed) - t0);
      }
      process.stderr.write(`[cancellation, loopback ${backend}] server saw the close after ${delays.map((d) => d.toFixed(1)).join(', ')} ms\n`);
      expect(Math.max(...delays.slice(1))).toBeLessThan(50);
      // supersession: a second request for the same document aborts the first
      const before = posts();
      const first = pipeline.draftsAt(doc('let a = '), { kind: 'provider' }, never);
      while (posts() < before + expected) await new Promise((r) => setTimeout(r, 2));
      const closed = s.nextEarlyClose();
      const second = pipeline.draftsAt(doc('let a = 1;\nlet b = '), { kind: 'provider' }, tokenSource().token);
      expect(await first).toBeUndefined();
      await closed;
      expect(engine.cancelled).toBeGreaterThanOrEqual(7);
      void second.catch(() => undefined);
      engine.stop();
    });
  }

  it('an unreachable server: one state, one notification, no exception per keystroke; retried after a backoff', async () => {
    const s = await openAiServer({ models: ['bigcode/starcoder2-3b'] });
    const url = s.url;
    await s.close();
    const problems: RemoteError[] = [];
    const engine = new RemoteEngine({ onProblem: (e) => problems.push(e), backoffMs: 150 });
    engine.configure({ backend: 'openai', endpoint: url, model: 'bigcode/starcoder2-3b', fim: 'auto' });
    const pipeline = new CompletionPipeline(engine, () => ({ ...settings, backend: 'openai' }), log);
    const states: string[] = [];
    engine.onState((st) => states.push(st));
    for (let i = 0; i < 10; i++) expect(await pipeline.draftsAt(doc(`x${i} = `), { kind: 'provider' }, never)).toBeUndefined();
    expect(engine.state).toBe('error');
    expect(engine.lastError).toMatch(/ECONNREFUSED.*superdraft\.endpoint/);
    expect(engine.requests).toBe(1); // the others were not sent: the engine is not ready
    expect(problems).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(engine.state).toBe('ready'); // the backoff passed: the next keystroke tries again
    expect(await pipeline.draftsAt(doc('y = '), { kind: 'provider' }, never)).toBeUndefined();
    expect(engine.requests).toBe(2);
    expect(problems).toHaveLength(1); // the same cause is not notified again
    expect(states).toEqual(['error', 'ready', 'error']);
    engine.stop();
  });

  it('a wrong key is not retried until the key changes; the key is nowhere in the state', async () => {
    const KEY = 'sk-right-1b2c3d';
    const s = await llamaCppServer({ slots: 4, key: KEY });
    servers.push(s);
    const problems: RemoteError[] = [];
    const engine = new RemoteEngine({ onProblem: (e) => problems.push(e), backoffMs: 10 });
    engine.configure({ backend: 'llama.cpp', endpoint: s.url, model: '', fim: 'auto', apiKey: 'sk-wrong-0a0a0a' });
    await expect(engine.complete({ prefix: 'a = ', suffix: '', languageId: 'python', path: 'a.py', strategy: 'sampling', k: 3, maxTokens: 8, mode: 'line', speculative: false })).rejects.toBeInstanceOf(ClientError);
    await new Promise((r) => setTimeout(r, 50));
    expect(engine.state).toBe('error');
    expect(problems.map((p) => p.code)).toEqual(['auth']);
    expect(`${engine.lastError} ${engine.stateReason}`).not.toContain('sk-wrong-0a0a0a');
    engine.configure({ backend: 'llama.cpp', endpoint: s.url, model: '', fim: 'auto', apiKey: KEY }); // Set API Key
    expect(engine.state).toBe('ready');
    const r = await engine.complete({ prefix: 'a = ', suffix: '', languageId: 'python', path: 'a.py', strategy: 'sampling', k: 3, maxTokens: 8, mode: 'line', speculative: false, copyDrafts: false });
    expect(r.drafts).toHaveLength(3);
    expect(engine.info?.device).toContain(s.url);
  });

  it('DraftSource forwards to the backend in use and fires the new state on a switch', async () => {
    const s = await llamaCppServer({ slots: 4 });
    servers.push(s);
    const engine = new RemoteEngine();
    const localStates = new Set<(st: string) => void>();
    const local = {
      state: 'ready',
      stateReason: undefined,
      lastError: undefined,
      modelLoadFailed: false,
      info: { model: 'embedded', device: 'cpu', providersTried: [], loadMs: 1, superposition: true },
      onState: (l: (st: string) => void) => (localStates.add(l), { dispose: () => localStates.delete(l) }),
      onProgress: () => ({ dispose() {} }),
      ready: async () => undefined,
      complete: async () => ({ strategy: 'superposed', drafts: [{ text: 'local', score: 0, tokens: 1, strategy: 'superposed' }], timing: { totalMs: 1, prefillMs: 0, prefillTokens: 0, reusedTokens: 0, forwards: 1, acceptedSpeculative: 0 } }),
    };
    let remote = false;
    const source = new DraftSource(local as never, engine, () => remote);
    const seen: string[] = [];
    source.onState((st) => seen.push(st));
    const req = { prefix: 'a = ', suffix: '', languageId: 'python', path: 'a.py', strategy: 'sampling' as const, k: 3, maxTokens: 8, mode: 'line' as const, speculative: false, copyDrafts: false };
    expect((await source.complete(req)).drafts[0]!.text).toBe('local');
    remote = true;
    engine.configure({ backend: 'llama.cpp', endpoint: s.url, model: '', fim: 'auto' });
    source.switched();
    expect(seen).toEqual(['ready', 'ready']);
    expect(source.info?.device).toContain('llama.cpp');
    expect((await source.complete({ ...req, strategy: 'superposed' })).drafts.map((d) => d.text)).toEqual(COMPLETIONS.slice(0, 3));
    // once the server answered, the status bar learns what ran (one more state event, same state)
    expect(seen).toEqual(['ready', 'ready', 'ready']);
    expect(source.info?.device).toContain('sampling: the server cannot do superposed');
    for (const l of localStates) l('starting'); // the local process's events are not the remote backend's state
    expect(seen).toEqual(['ready', 'ready', 'ready']);
    source.dispose();
  });
});

describe('the picker names where a remote draft came from', () => {
  it('backend, server model and time per draft; a copy keeps its own label', async () => {
    const { panelDrafts } = await import('../../src/extension/panel/panelHtml');
    const rows = panelDrafts(
      [
        { rank: 1, text: 'return a + b;', score: -0.1, tokens: 4, strategy: 'sampling', server: { backend: 'ollama', model: 'qwen2.5-coder:1.5b-base', msPerDraft: 41.6 } },
        { rank: 2, text: 'return a * 2;', score: 1.2, tokens: 4, strategy: 'sampling', copiedFrom: { path: '', offset: -2, matchLength: 20 } },
      ],
      9,
    );
    expect(rows.map((r) => r.source)).toEqual(['ollama qwen2.5-coder:1.5b-base · 42 ms/draft', 'copied from line 8']);
  });
});
