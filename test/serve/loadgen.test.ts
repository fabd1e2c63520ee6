/**
 * The load generator (src/serve/loadgen.ts) against a real server on the embedded model, briefly: typists' keystrokes
 * supersede their own requests (cancellations), completed requests bring drafts, nothing errs. Counts, not timings.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, defaultModelDir } from '../../src/engine/engine';
import { formatTable, percentile, runLoad } from '../../src/serve/loadgen';
import { startServer, SERVE_DEFAULTS, type RunningServer } from '../../src/serve/server';
import { ROOT } from '../helpers/paths';
import { call, sample } from './helpers';

let engine: Engine;
let server: RunningServer;

beforeAll(async () => {
  engine = await Engine.load({ modelDir: defaultModelDir(), promptCacheEntries: 32 });
  server = await startServer(engine, { ...SERVE_DEFAULTS, port: 0, strategy: 'superposed', modelId: 'embedded' });
});
afterAll(async () => {
  await server?.close();
  await engine?.dispose();
});

describe('loadgen', () => {
  it('percentile: nearest rank', () => {
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)).toBe(5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)).toBe(10);
    expect(percentile([], 50)).toBeNaN();
  });

  it('two typists for 3 s: requests superseded by keystrokes are cancelled, completed ones bring k drafts, no errors', async () => {
    const docs = ['braces-expand.js', 'textwrap.py'].map((f) => ({ path: f, text: readFileSync(path.join(ROOT, 'bench', 'prompts', f), 'utf8') }));
    const r = await runLoad({ url: server.url, users: 2, strategy: 'superposed', k: 3, maxTokens: 12, durationMs: 3000, keyMs: 30, docs });
    expect(r.errors).toBe(0);
    expect(r.completed).toBeGreaterThan(0);
    expect(r.cancelled).toBeGreaterThan(0);
    expect(r.requests).toBe(r.completed + r.cancelled + r.unfinished);
    expect(r.drafts).toBeGreaterThanOrEqual(r.completed);
    expect(r.drafts).toBeLessThanOrEqual(3 * r.completed);
    expect(r.passes).toBe(r.completed);
    expect(r.promptReuse).toBeGreaterThan(0.5); // each keystroke continues the prompt of the one before
    const m = (await call(server.url, 'GET', '/metrics')).text;
    expect(sample(m, 'superdraft_cancellations_total')).toBeGreaterThan(0);
    expect(formatTable([r], 'embedded')).toContain('| embedded | superposed | 3 | 2 |');
  });
});
