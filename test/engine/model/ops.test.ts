/**
 * The native helper graphs of src/engine/ops.ts on the real onnxruntime: the ONNX protobuf it encodes (protobufjs +
 * onnx.proto) decodes to the graph it describes and loads,
 * and the row log-sum-exp it computes equals the JavaScript one, on synthetic rows (including a large offset and
 * -Infinity entries) and on the real model's logits through ModelRuntime.rowLogSumExp (native and JS paths).
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { readModelConfig } from '../../../src/engine/model/config';
import { logSumExp } from '../../../src/engine/decode/decode';
import { RowLogSumExp, logSumExpModel } from '../../../src/engine/model/ops';
import { decodeModel } from '../../../src/engine/model/onnx/proto';
import { ModelRuntime } from '../../../src/engine/model/runtime';
import { defaultModelDir } from '../../../src/engine/engine';

describe('native row log-sum-exp', () => {
  it('is a valid ONNX model (max-shifted log-sum-exp of elementwise nodes)', async () => {
    const m = decodeModel(logSumExpModel());
    expect(m.graph.node.map((n) => n.op_type)).toEqual(['Constant', 'ReduceMax', 'Sub', 'Exp', 'ReduceSum', 'Log', 'Add', 'Squeeze']);
    expect(m.opset_import.map((o) => [o.domain, Number(o.version)])).toEqual([['', 13]]);
    expect(m.graph.input.map((i) => i.name)).toEqual(['x']);
    const s = await ort.InferenceSession.create(logSumExpModel());
    expect(s.inputNames).toEqual(['x']);
    expect(s.outputNames).toEqual(['y']);
    await s.release();
  });

  it('equals the JavaScript log-sum-exp on synthetic rows', async () => {
    const op = await RowLogSumExp.create();
    const V = 1000;
    const rows = 5;
    const x = new Float32Array(rows * V);
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    for (let i = 0; i < x.length; i++) x[i] = rnd() * 8;
    for (let i = 0; i < V; i++) x[V + i] += 1000; // a large offset must not overflow
    for (let i = 0; i < V; i += 3) x[2 * V + i] = -Infinity; // masked entries contribute nothing
    const y = await op.rows(x, rows, V);
    expect(y.length).toBe(rows);
    for (let r = 0; r < rows; r++) expect(Math.abs(y[r]! - logSumExp(x, V, r))).toBeLessThan(1e-4 * Math.max(1, Math.abs(y[r]!)));
    await op.dispose();
  });

  it('ModelRuntime.rowLogSumExp matches on real logits, natively (many rows, in runs of 8 with a partial last run) and in JS (few rows)', async () => {
    const cfg = readModelConfig(process.env.SUPERDRAFT_MODEL_DIR || defaultModelDir());
    const rt = await ModelRuntime.load(cfg, { device: 'cpu' });
    try {
      const ids = Array.from({ length: 21 }, (_, i) => 40 + ((i * 37) % 500));
      const out = await rt.forward({ ids, batch: 1, seq: ids.length, past: rt.emptyKv(1), wantKv: false });
      const V = out.logits.length / ids.length;
      const many = await rt.rowLogSumExp(out.logits, ids.length, V);
      const few = await rt.rowLogSumExp(out.logits, 3, V);
      expect(many).toBeInstanceOf(Float32Array); // the native path ran
      expect(few).toBeInstanceOf(Float64Array); // the JavaScript path ran
      for (let r = 0; r < ids.length; r++) {
        const js = logSumExp(out.logits, V, r);
        expect(Math.abs(many[r]! - js)).toBeLessThan(1e-4);
        if (r < 3) expect(few[r]).toBeCloseTo(js, 9);
      }
    } finally {
      await rt.dispose();
    }
  });
});
