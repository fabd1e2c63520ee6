/** `model prepare` on bad input: a clear error naming the file, and nothing written. */
import { existsSync, readFileSync, readdirSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeModel, encodeModel } from '../../src/engine/model/onnx/proto';
import { PrepareError, prepareModel } from '../../src/prepare/prepare';
import { copyFixture, removeFixtures } from './replicas';

afterAll(removeFixtures);

describe('model prepare: bad input fails clearly, naming the file, with nothing written', () => {
  const snapshot = (dir: string): Record<string, string> => {
    const out: Record<string, string> = {};
    const walk = (d: string): void => {
      for (const f of readdirSync(d)) {
        const p = path.join(d, f);
        if (statSync(p).isDirectory()) walk(p);
        else out[path.relative(dir, p)] = readFileSync(p).toString('base64');
      }
    };
    walk(dir);
    return out;
  };
  const expectFailure = (dir: string, re: RegExp): void => {
    const before = snapshot(dir);
    expect(() => prepareModel(dir)).toThrow(PrepareError);
    expect(() => prepareModel(dir)).toThrow(re);
    expect(snapshot(dir)).toEqual(before);
  };

  it('no embedding lookup on input_ids', () => {
    const dir = copyFixture('qwen2');
    const file = path.join(dir, 'onnx', 'model_q4.onnx');
    const m = decodeModel(readFileSync(file));
    for (const n of m.graph.node) if (n.op_type === 'Gather' && n.input[1] === 'input_ids') n.op_type = 'GatherElements';
    writeFileSync(file, encodeModel(m));
    expectFailure(dir, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: no embedding lookup`));
  });

  it('unknown model_type', () => {
    const dir = copyFixture('qwen2');
    const cfgFile = path.join(dir, 'config.json');
    writeFileSync(cfgFile, JSON.stringify({ ...JSON.parse(readFileSync(cfgFile, 'utf8')), model_type: 'mamba' }));
    expectFailure(dir, /config\.json: unknown model_type "mamba"/);
  });

  it('missing tokenizer', () => {
    const dir = copyFixture('starcoder2');
    unlinkSync(path.join(dir, 'tokenizer.json'));
    expectFailure(dir, /tokenizer not found: .*tokenizer\.json/);
  });

  it('missing external data', () => {
    const dir = copyFixture('llama');
    unlinkSync(path.join(dir, 'onnx', 'model_q4.onnx_data'));
    expectFailure(dir, /model_q4\.onnx: external data file .*model_q4\.onnx_data is missing/);
  });

  it('truncated external data', () => {
    const dir = copyFixture('deepseek');
    const data = path.join(dir, 'onnx', 'model.onnx_data');
    truncateSync(data, statSync(data).size - 100);
    expectFailure(dir, /model\.onnx: external data file .*model\.onnx_data is truncated/);
  });

  it('a graph whose attention takes the cache length from the mask (GroupQueryAttention) gets no present_delta.*', () => {
    const dir = copyFixture('qwen2');
    const file = path.join(dir, 'onnx', 'model_q4.onnx');
    const m = decodeModel(readFileSync(file));
    const sm = m.graph.node.find((n) => n.op_type === 'Softmax')!;
    Object.assign(sm, { op_type: 'GroupQueryAttention', domain: 'com.microsoft' }); // prepare reads the graph only
    writeFileSync(file, encodeModel(m));
    const r = prepareModel(dir);
    const q4 = r.variants.find((v) => v.file === file)!;
    expect(q4.noDeltas).toMatch(/^GroupQueryAttention .* takes the cache length from the attention mask$/);
    expect(q4.deltas).toBeUndefined();
    expect(q4.embedding).toMatch(/^Gather /); // the rest is prepared
    expect(decodeModel(readFileSync(file)).graph.output.some((o) => o.name.startsWith('present_delta.'))).toBe(false);
    expect(r.variants.find((v) => v.file !== file)!.deltas).toBe(2);
    expect(JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')).superdraft.prepared.variants['onnx/model_q4.onnx'].present_delta_layers).toBe(0);
    expect(prepareModel(dir).changed).toBe(false); // and it counts as prepared
  });

  it('already prepared: no-op', () => {
    const dir = copyFixture('qwen2');
    prepareModel(dir);
    const before = snapshot(dir);
    const r = prepareModel(dir);
    expect(r.changed).toBe(false);
    expect(r.variants.every((v) => v.status === 'already')).toBe(true);
    expect(snapshot(dir)).toEqual(before);
    expect(existsSync(path.join(dir, 'onnx', 'model.onnx'))).toBe(true);
  });
});
