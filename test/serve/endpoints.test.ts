/**
 * `superdraft serve` on loopback with the real engine on the embedded model: every endpoint's shape, n = k distinct
 * drafts in one superposed pass (against k passes for sampling), stop, logprobs, SSE framing, /infill, the fair queue
 * under 16 concurrent clients, cancellation on disconnect and on supersede seen in /metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, defaultModelDir } from '../../src/engine/engine';
import { startServer, SERVE_DEFAULTS, type RunningServer } from '../../src/serve/server';
import { SUPERDRAFT_OWNED_BY, SUPERDRAFT_STRATEGY_FIELD } from '../../src/serve/names';
import { call, sample, until } from './helpers';

let engine: Engine;
let server: RunningServer;
let url: string;

const TS = { prompt: 'function add(a: number, b: number) {\n  return ', suffix: '\n}\n', language_id: 'typescript' };

beforeAll(async () => {
  engine = await Engine.load({ modelDir: defaultModelDir(), promptCacheEntries: 32 });
  server = await startServer(engine, { ...SERVE_DEFAULTS, port: 0, strategy: 'superposed', modelId: 'superdraft-embedded' });
  url = server.url;
});

afterAll(async () => {
  await server?.close();
  await engine?.dispose();
});

const metrics = async () => (await call(url, 'GET', '/metrics')).text;

describe('serve: endpoints on the embedded model', () => {
  it('GET /health and GET /v1/models (owned_by superdraft, the strategies)', async () => {
    const h = await call(url, 'GET', '/health');
    expect(h.status).toBe(200);
    expect(h.json.status).toBe('ok');
    const m = await call(url, 'GET', '/v1/models');
    expect(m.status).toBe(200);
    expect(m.json.object).toBe('list');
    expect(m.json.data).toHaveLength(1);
    expect(m.json.data[0]).toMatchObject({ id: 'superdraft-embedded', object: 'model', owned_by: SUPERDRAFT_OWNED_BY });
    expect(m.json.data[0].superdraft.strategies).toEqual(['superposed', 'beam', 'sampling', 'greedy']);
    expect(m.json.data[0].superdraft.superposition).toBe(true);
  });

  it('POST /v1/completions with n = 4: four distinct drafts from one superposed pass; sampling at the same k takes four', async () => {
    const before = await metrics();
    const r = await call(url, 'POST', '/v1/completions', { ...TS, n: 4, max_tokens: 16 });
    expect(r.status).toBe(200);
    expect(r.json.object).toBe('text_completion');
    expect(r.json.choices).toHaveLength(4);
    expect(r.json.choices.map((c: any) => c.index)).toEqual([0, 1, 2, 3]);
    const texts = r.json.choices.map((c: any) => c.text);
    expect(new Set(texts).size).toBe(4);
    for (const c of r.json.choices) expect(['stop', 'length']).toContain(c.finish_reason);
    expect(r.json.superdraft.strategy).toBe('superposed');
    expect(r.json.superdraft.passes).toBe(1);
    expect(r.json.superdraft.forwards).toBeGreaterThan(0);
    expect(r.json.usage.completion_tokens).toBe(r.json.superdraft.drafts.reduce((a: number, d: any) => a + d.tokens, 0));
    const s = await call(url, 'POST', '/v1/completions', { ...TS, n: 4, max_tokens: 16, seed: 3, [SUPERDRAFT_STRATEGY_FIELD]: 'sampling' });
    expect(s.status).toBe(200);
    expect(s.json.superdraft.strategy).toBe('sampling');
    expect(s.json.superdraft.passes).toBe(4);
    const after = await metrics();
    expect(sample(after, 'superdraft_decoding_passes_total', { strategy: 'superposed' }) - sample(before, 'superdraft_decoding_passes_total', { strategy: 'superposed' })).toBe(1);
    expect(sample(after, 'superdraft_decoding_passes_total', { strategy: 'sampling' }) - sample(before, 'superdraft_decoding_passes_total', { strategy: 'sampling' })).toBe(4);
    expect(sample(after, 'superdraft_drafts_total', { strategy: 'superposed' }) - sample(before, 'superdraft_drafts_total', { strategy: 'superposed' })).toBe(4);
  });

  it('an unknown strategy or a bad field is a 400 naming it', async () => {
    const r = await call(url, 'POST', '/v1/completions', { ...TS, [SUPERDRAFT_STRATEGY_FIELD]: 'fastest' });
    expect(r.status).toBe(400);
    expect(r.json.error.param).toBe(SUPERDRAFT_STRATEGY_FIELD);
    const n = await call(url, 'POST', '/v1/completions', { ...TS, n: 17 });
    expect(n.status).toBe(400);
    expect(n.json.error.param).toBe('n');
    const p = await call(url, 'POST', '/v1/completions', { suffix: 'x' });
    expect(p.status).toBe(400);
    const j = await fetch(url + '/v1/completions', { method: 'POST', body: '{"prompt": ' });
    expect(j.status).toBe(400);
  });

  it('stop cuts each draft at the first stop string; logprobs lists the draft as the model tokenizes it', async () => {
    const g = await call(url, 'POST', '/v1/completions', { ...TS, n: 1, max_tokens: 16, [SUPERDRAFT_STRATEGY_FIELD]: 'greedy' });
    const full: string = g.json.choices[0].text;
    expect(full.length).toBeGreaterThan(2);
    const stop = full.slice(2, 3);
    const cut = await call(url, 'POST', '/v1/completions', { ...TS, n: 1, max_tokens: 16, stop: [stop], [SUPERDRAFT_STRATEGY_FIELD]: 'greedy', logprobs: 0 });
    expect(cut.json.choices[0].text).toBe(full.slice(0, full.indexOf(stop)));
    expect(cut.json.choices[0].finish_reason).toBe('stop');
    const lp = cut.json.choices[0].logprobs;
    expect(lp.tokens.join('')).toBe(cut.json.choices[0].text);
    expect(lp.text_offset).toHaveLength(lp.tokens.length);
  });

  it('stream: server-sent events, one per draft, then usage and the pass count, then [DONE]', async () => {
    const r = await fetch(url + '/v1/completions', { method: 'POST', body: JSON.stringify({ ...TS, n: 3, max_tokens: 12, stream: true }) });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await r.text();
    expect(text.endsWith('\n\n')).toBe(true);
    const events = text.slice(0, -2).split('\n\n');
    for (const e of events) expect(e).toMatch(/^data: /);
    expect(events[events.length - 1]).toBe('data: [DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice('data: '.length)));
    const drafts = chunks.filter((c) => c.choices.length > 0);
    expect(drafts.map((c) => c.choices[0].index)).toEqual([0, 1, 2]);
    for (const c of chunks) expect(c.object).toBe('text_completion');
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    const last = chunks[chunks.length - 1];
    expect(last.superdraft.passes).toBe(1);
    expect(last.usage.total_tokens).toBeGreaterThan(0);
  });

  it('POST /infill (llama.cpp): n_cmpl drafts as an array of {content, …}; one draft as an object', async () => {
    const body = { input_prefix: 'def fib(n):\n    if n < 2:\n        return n\n', prompt: '    return ', input_suffix: '\n', input_extra: [{ filename: 'util.py', text: 'def fib2(n):\n    return fib(n - 1) + fib(n - 2)\n' }] };
    const r = await call(url, 'POST', '/infill', { ...body, n_cmpl: 3, n_predict: 16 });
    expect(r.status).toBe(200);
    expect(Array.isArray(r.json)).toBe(true);
    expect(r.json.length).toBeGreaterThan(1);
    expect(r.json.length).toBeLessThanOrEqual(3);
    r.json.forEach((d: any, i: number) => {
      expect(d.index).toBe(i);
      expect(typeof d.content).toBe('string');
      expect(d.stop).toBe(true);
      expect(d.tokens_predicted).toBeGreaterThan(0);
      expect(d.timings.prompt_n + d.timings.cache_n).toBe(d.tokens_evaluated);
    });
    expect(new Set(r.json.map((d: any) => d.content)).size).toBe(r.json.length);
    const one = await call(url, 'POST', '/infill', { ...body, n_predict: 8 });
    expect(Array.isArray(one.json)).toBe(false);
    expect(typeof one.json.content).toBe('string');
    expect(one.json.superdraft.passes).toBe(1);
  });

  it('GET /metrics: Prometheus text with requests, latency histogram, drafts per second, queue depth, cancellations, prompt-cache hits', async () => {
    const r = await call(url, 'GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const line of r.text.trim().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|[a-zA-Z_:][\w:]*(\{[^}]*\})? [-+0-9.eEInfNa]+)$/);
    for (const name of ['superdraft_http_requests_total', 'superdraft_request_duration_seconds', 'superdraft_drafts_per_second', 'superdraft_queue_depth', 'superdraft_cancellations_total', 'superdraft_prompt_cache_hits_total']) {
      expect(r.text).toContain(`# TYPE ${name} `);
    }
    expect(sample(r.text, 'superdraft_request_duration_seconds_count', { route: 'openai', strategy: 'superposed' })).toBeGreaterThan(0);
    expect(sample(r.text, 'superdraft_http_requests_total', { route: 'POST /v1/completions', status: '200' })).toBeGreaterThan(0);
    // typing one more character reuses the prompt of the keystroke before
    const hits = sample(r.text, 'superdraft_prompt_cache_hits_total');
    await call(url, 'POST', '/v1/completions', { prompt: 'let total = 0;\nfor (const x of xs) {\n  total', n: 2, max_tokens: 8 });
    await call(url, 'POST', '/v1/completions', { prompt: 'let total = 0;\nfor (const x of xs) {\n  total ', n: 2, max_tokens: 8 });
    expect(sample(await metrics(), 'superdraft_prompt_cache_hits_total')).toBeGreaterThan(hits);
  });

  it('the prompt cache keeps each typing client: 8 editors interleaved each reuse their own prompt on the next keystroke', async () => {
    // (with the engine's default of 4 entries the second round finds at most the shared "// file " start)
    const docs = Array.from({ length: 8 }, (_, i) => `// file ${i}\n${'const table' + i} = [${Array.from({ length: 30 }, (_, j) => j * (i + 3)).join(', ')}];\nexport function lookup${i}(n) {\n  return table${i}[n`);
    for (const d of docs) expect((await call(url, 'POST', '/v1/completions', { prompt: d, n: 2, max_tokens: 4, user: d.slice(0, 10) })).status).toBe(200);
    for (const d of docs) {
      const r = await call(url, 'POST', '/v1/completions', { prompt: d + ' ', n: 2, max_tokens: 4, user: d.slice(0, 10) });
      expect(r.json.superdraft.timing.reusedTokens).toBeGreaterThan(20);
    }
  });

  it('16 concurrent clients are all answered with their drafts', async () => {
    const rs = await Promise.all(
      Array.from({ length: 16 }, (_, i) => call(url, 'POST', '/v1/completions', { prompt: `const value${i} = compute(${i}, `, suffix: ');\n', n: 2, max_tokens: 8, user: `editor-${i}` })),
    );
    for (const r of rs) {
      expect(r.status).toBe(200);
      expect(r.json.choices.length).toBeGreaterThan(0);
    }
    expect(sample(await metrics(), 'superdraft_queue_depth')).toBe(0);
  });

  it('a client that disconnects is cancelled (queued and running), seen in /metrics; the server keeps serving', async () => {
    const before = await metrics();
    const long = { prompt: 'const s = "', n: 16, max_tokens: 1024, temperature: 1.5, [SUPERDRAFT_STRATEGY_FIELD]: 'sampling' };
    const a = new AbortController();
    const b = new AbortController();
    const pa = call(url, 'POST', '/v1/completions', long, undefined, {}, a.signal).catch((e) => e);
    await until(async () => sample(await metrics(), 'superdraft_requests_running') === 1);
    const pb = call(url, 'POST', '/v1/completions', long, undefined, {}, b.signal).catch((e) => e);
    await until(async () => sample(await metrics(), 'superdraft_queue_depth') === 1);
    b.abort();
    a.abort();
    expect((await pa).name).toBe('AbortError');
    expect((await pb).name).toBe('AbortError');
    await until(async () => {
      const m = await metrics();
      return sample(m, 'superdraft_requests_running') === 0 && sample(m, 'superdraft_queue_depth') === 0;
    });
    const after = await metrics();
    const delta = (stage: string) => sample(after, 'superdraft_cancellations_total', { reason: 'disconnect', stage }) - sample(before, 'superdraft_cancellations_total', { reason: 'disconnect', stage });
    expect(delta('queued')).toBe(1);
    expect(delta('running')).toBe(1);
    // the cancelled work returned no drafts
    expect(sample(after, 'superdraft_drafts_total', { strategy: 'sampling' })).toBe(sample(before, 'superdraft_drafts_total', { strategy: 'sampling' }));
    expect((await call(url, 'POST', '/v1/completions', { ...TS, n: 2, max_tokens: 8 })).status).toBe(200);
  });

  it("a client's newer request supersedes its older one (409 for the older)", async () => {
    const before = await metrics();
    const long = { prompt: 'const s = "', n: 16, max_tokens: 1024, temperature: 1.5, [SUPERDRAFT_STRATEGY_FIELD]: 'sampling', user: 'alice-editor' };
    const first = call(url, 'POST', '/v1/completions', long);
    await until(async () => sample(await metrics(), 'superdraft_requests_running') === 1);
    const second = await call(url, 'POST', '/v1/completions', { ...TS, n: 2, max_tokens: 8, user: 'alice-editor' });
    expect(second.status).toBe(200);
    const old = await first;
    expect(old.status).toBe(409);
    expect(old.json.error.code).toBe('cancelled');
    expect(sample(await metrics(), 'superdraft_cancellations_total', { reason: 'superseded' }) - sample(before, 'superdraft_cancellations_total', { reason: 'superseded' })).toBe(1);
  });
});
