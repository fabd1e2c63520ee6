/**
 * Lossless speculation on a multi-head model (docs/speculative-exactness.md): speculative greedy gives plain greedy's
 * tokens on the prepared Qwen2 replica (2 KV heads, the append-only store, float activations), with units verified,
 * partly rejected and the store rewound; and a rewound cache has the layout of one grown a token at a time.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../../src/engine/engine';
import { preparedReplicaCopy } from '../../helpers/replicas';
import type { CompletionRequest } from '../../../src/protocol';

describe('speculative greedy on the Qwen2 replica (q4)', () => {
  let dir: string;
  let engine: Engine;
  beforeAll(async () => {
    dir = preparedReplicaCopy('qwen2', 'superdraft-spec-');
    engine = await Engine.load({ modelDir: dir, variant: 'q4', device: 'cpu', threads: 1 });
  });
  afterAll(() => {
    engine?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives plain greedy\'s drafts, prompt by prompt, with units accepted and rejected', async () => {
    // repetitive code: prompt lookup proposes units, the random model accepts some tokens and rejects the rest
    const line = (i: number) => `    total_${i % 3} = compute(values[${i % 5}], offset=${i % 2})\n`;
    const prefixes = [0, 1, 2, 3].map((n) => `def run(values):\n${Array.from({ length: 12 + n * 5 }, (_, i) => line(i + n)).join('')}    total_`);
    let accepted = 0;
    let fewer = 0;
    for (const prefix of prefixes) {
      const req = { prefix, suffix: '', languageId: 'python', path: 'run.py', strategy: 'greedy', k: 1, maxTokens: 40, mode: 'line', ignoreStop: true } as CompletionRequest;
      const plain = await engine.complete({ ...req, speculative: false });
      const spec = await engine.complete({ ...req, speculative: true });
      expect(spec.drafts[0]!.text, prefix.slice(-40)).toBe(plain.drafts[0]!.text);
      accepted += spec.timing.acceptedSpeculative;
      if (spec.timing.forwards < plain.timing.forwards) fewer++;
    }
    // the units were really verified: some tokens came from them (and so fewer forwards)
    expect(accepted).toBeGreaterThan(0);
    expect(fewer).toBeGreaterThan(0);
  });
});
