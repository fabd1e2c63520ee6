/**
 * `superdraft serve` over a prepared replica of a real family (qwen2: the Qwen2.5-Coder layout and op set, random
 * weights, prepared with prepareModel as `superdraft model prepare` does): /v1/models, n = 4 drafts in one superposed
 * pass, /infill with n_cmpl. Random weights make arbitrary text, so the shapes and pass counts are checked, not the text.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preparedReplicaCopy } from '../helpers/replicas';
import { Engine } from '../../src/engine/engine';
import { startServer, SERVE_DEFAULTS, type RunningServer } from '../../src/serve/server';
import { call } from './helpers';

let dir: string;
let engine: Engine;
let server: RunningServer;

beforeAll(async () => {
  dir = preparedReplicaCopy('qwen2', 'superdraft-serve-qwen2-');
  engine = await Engine.load({ modelDir: dir });
  server = await startServer(engine, { ...SERVE_DEFAULTS, port: 0, strategy: 'superposed', modelId: 'qwen2-replica' });
});

afterAll(async () => {
  await server?.close();
  await engine?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('serve: a prepared qwen2 replica', () => {
  it('lists the model, answers n = 4 in one superposed pass and /infill with n_cmpl', async () => {
    const m = await call(server.url, 'GET', '/v1/models');
    expect(m.json.data[0]).toMatchObject({ id: 'qwen2-replica', owned_by: 'superdraft' });
    expect(m.json.data[0].superdraft.superposition).toBe(true);
    const r = await call(server.url, 'POST', '/v1/completions', { prompt: 'def add(a, b):\n    return ', suffix: '\n', n: 4, max_tokens: 8 });
    expect(r.status).toBe(200);
    expect(r.json.choices.length).toBeGreaterThan(0);
    expect(r.json.choices.length).toBeLessThanOrEqual(4);
    expect(r.json.superdraft.strategy).toBe('superposed');
    expect(r.json.superdraft.passes).toBe(1);
    for (const d of r.json.superdraft.drafts) expect(d.tokens).toBeLessThanOrEqual(8);
    const s = await call(server.url, 'POST', '/v1/completions', { prompt: 'def add(a, b):\n    return ', n: 4, max_tokens: 8, superdraft_strategy: 'beam' });
    expect(s.json.superdraft.strategy).toBe('beam');
    expect(s.json.superdraft.passes).toBe(4);
    const i = await call(server.url, 'POST', '/infill', { input_prefix: 'x = 1\n', prompt: 'y = ', input_suffix: '\n', n_cmpl: 2, n_predict: 6 });
    expect(i.status).toBe(200);
    const list = Array.isArray(i.json) ? i.json : [i.json];
    for (const d of list) expect(typeof d.content).toBe('string');
  });
});
