/**
 * The bench's device figures and peer plumbing that do not depend on timing: the bytes a decoding step streams (the
 * roofline's numerator), the copy-bandwidth probe's sanity, and the peer saying exactly what is missing.
 */
import { statSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { benchPeer } from '../../src/cli/commands/benchPeer';
import { measureBandwidth, measureBandwidthThreads, streamedBytes } from '../../src/cli/commands/benchRoofline';
import { readModelConfig } from '../../src/engine/model/config';
import { LARGE_MODEL_BYTES, modelBytes } from '../../src/engine/model/modelSize';
import { REPLICAS } from '../helpers/paths';

const TINY = path.join(REPLICAS, 'qwen2');

describe('bench device figures', () => {
  it('a decoding step streams the weights less the float32 embedding table (one row of it is read)', () => {
    for (const variant of ['q4', 'fp32']) {
      const cfg = readModelConfig(TINY, variant);
      const file = cfg.modelFile;
      const all = statSync(file).size + statSync(file + '_data').size;
      expect(modelBytes(file)).toBe(all);
      expect(streamedBytes(cfg, variant)).toBe(all - cfg.vocabSize * cfg.hiddenSize * 4);
    }
    // the tiny replica is far below the size from which the cost-driven policies apply
    expect(modelBytes(readModelConfig(TINY, 'fp32').modelFile)).toBeLessThan(LARGE_MODEL_BYTES);
  });

  it('the copy probes (one thread, two threads) report a finite, positive bandwidth', async () => {
    const gbs = measureBandwidth(16 * 1024 * 1024, 2);
    expect(Number.isFinite(gbs)).toBe(true);
    expect(gbs).toBeGreaterThan(0);
    // the same copy split over two worker threads at once (real threads: it returns only once both have copied)
    const two = await measureBandwidthThreads(2, 16 * 1024 * 1024, 2);
    expect(Number.isFinite(two)).toBe(true);
    expect(two).toBeGreaterThan(0);
  });

  it('the peer says what is missing (the package or the GGUF file) instead of failing', async () => {
    const r = await benchPeer({ modelDir: TINY, variant: 'q4', threads: 1, prompts: [[1, 2, 3]], maxTokens: 4, ours: async () => ({ ms: 1, tokens: 1 }) });
    expect(r.name).toMatch(/llama\.cpp .*node-llama-cpp 3\.21\.1/);
    expect(String(r.absent)).toMatch(/scripts\/install-peer\.sh|training\/onnx_to_gguf\.py .*--variant q4/);
  });
});
