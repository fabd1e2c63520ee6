/**
 * Every model family's tiny replica, prepared, served by the real inference process (dist/server.js, a child
 * process) through the JSON-RPC client the extension uses: greedy, beam, sampling and superposed each return drafts
 * with no special-token text, and superposed reports the model's k drafts.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InferenceClient, RestartPolicy } from '../../src/extension/process/client';
import { prepareModel } from '../../src/prepare/prepare';
import type { CompletionRequest } from '../../src/protocol';
import { ROOT } from '../helpers/paths';

const SERVER = join(ROOT, 'dist', 'server.js');
const FAMILIES = ['qwen2', 'llama', 'deepseek', 'starcoder2', 'gpt_bigcode'];
const tmp = mkdtempSync(join(tmpdir(), 'sd-families-server-'));

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const req = (over: Partial<CompletionRequest>): CompletionRequest => ({
  prefix: 'import { readFile } from "node:fs";\n\nexport class Queue {\n  private items: number[] = [];\n  push(x: number) {\n    this.',
  suffix: '\n  }\n}\n',
  languageId: 'typescript',
  path: 'src/queue.ts',
  strategy: 'greedy',
  k: 1,
  maxTokens: 8,
  mode: 'line',
  speculative: true,
  seed: 3,
  ...over,
});

describe('every family through the inference process', () => {
  for (const family of FAMILIES) {
    it(`${family}: greedy, beam, sampling and superposed from the child process`, async () => {
      const dir = join(tmp, family);
      cpSync(join(ROOT, 'test', 'fixtures', 'replicas', family), dir, { recursive: true });
      prepareModel(dir);
      const logs: string[] = [];
      const client = new InferenceClient({
        serverPath: SERVER,
        init: () => ({ modelPath: dir, device: 'cpu', workspaceNgrams: false }),
        log: (level, m) => logs.push(`${level} ${m}`),
        policy: new RestartPolicy(0, 60_000, 100, 1000),
      });
      try {
        const info = await client.start();
        expect(client.pid).not.toBe(process.pid);
        expect(info.model).toContain('replica');
        for (const strategy of ['greedy', 'beam', 'sampling', 'superposed'] as const) {
          const res = await client.complete(req({ strategy, k: strategy === 'greedy' ? 1 : 3 }));
          expect(res.strategy, logs.join('\n')).toBe(strategy);
          expect(res.drafts.length, `${family} ${strategy}`).toBeGreaterThan(0);
          expect(res.timing.forwards).toBeGreaterThan(0);
          for (const d of res.drafts) expect(d.text, `${family} ${strategy}`).not.toMatch(/<\||\|>|<fim_|<｜|<PRE>|<SUF>|<MID>|<EOT>|<\/s>/);
        }
      } finally {
        await client.stop();
      }
    });
  }
});
