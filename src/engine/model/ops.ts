/**
 * Small helper graphs that onnxruntime runs natively (vectorised) where JavaScript would loop over the vocabulary:
 * log-sum-exp of many logit rows at once, for verification passes. The graphs are built here as ONNX ModelProto
 * messages through protobufjs and the official schema (src/engine/onnx: the same library and schema as the graph
 * rewriter of `superdraft model prepare`), so nothing model-specific and no extra model file is involved.
 */
import * as ort from 'onnxruntime-node';
import { ATTR, DT, type Attribute, type Model, type Node, encodeModel, int64Tensor, tensorInfo } from './onnx/proto';

const ints = (name: string, values: number[]): Attribute => ({ name, type: ATTR.INTS, ints: values });
const int = (name: string, value: number): Attribute => ({ name, type: ATTR.INT, i: value });
/** A 1-D int64 tensor attribute (for a Constant node). */
const int64Attr = (name: string, values: number[]): Attribute => ({ name, type: ATTR.TENSOR, t: int64Tensor('', values) });

/** NodeProto: inputs, outputs, op type (default domain), attributes. */
function node(inputs: string[], outputs: string[], op: string, attrs: Attribute[] = []): Node {
  return { input: inputs, output: outputs, name: `${op}_${outputs[0]}`, op_type: op, domain: '', attribute: attrs };
}

/**
 * ONNX model (opset 13): y[n] = log Σ_v exp(x[n, v]), as m + log Σ exp(x − m) with m the row maximum. Written out
 * of elementwise nodes on purpose: onnxruntime vectorises Exp and the reductions, while its ReduceLogSumExp kernel
 * does not (124 rows × 8192: 0.5 ms against 4.6 ms here).
 */
export function logSumExpModel(): Uint8Array {
  return opset13Model({
    name: 'superdraft_logsumexp',
    node: [
      node([], ['axes'], 'Constant', [int64Attr('value', [-1])]),
      node(['x'], ['m'], 'ReduceMax', [ints('axes', [-1]), int('keepdims', 1)]),
      node(['x', 'm'], ['shifted'], 'Sub'),
      node(['shifted'], ['e'], 'Exp'),
      node(['e', 'axes'], ['s'], 'ReduceSum', [int('keepdims', 1)]),
      node(['s'], ['logs'], 'Log'),
      node(['logs', 'm'], ['y1'], 'Add'),
      node(['y1', 'axes'], ['y'], 'Squeeze'),
    ],
    input: [tensorInfo('x', DT.FLOAT, ['rows', 'vocab'])],
    output: [tensorInfo('y', DT.FLOAT, ['rows'])],
  });
}

/** A helper graph as an ONNX model (IR 7, the default domain at opset 13), encoded. */
function opset13Model(graph: { name: string; node: Model['graph']['node']; input: Model['graph']['input']; output: Model['graph']['output'] }): Uint8Array {
  return encodeModel({
    ir_version: 7,
    producer_name: 'superdraft',
    opset_import: [{ domain: '', version: 13 }],
    graph: { ...graph, initializer: [], value_info: [] },
  });
}

/** Rows per helper run (see RowLogSumExp.rows). */
const CHUNK_ROWS = 8;

/** Log-sum-exp of logit rows, computed by onnxruntime on the CPU. */
export class RowLogSumExp {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async create(): Promise<RowLogSumExp> {
    const session = await ort.InferenceSession.create(logSumExpModel(), {
      executionProviders: ['cpu'],
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
    return new RowLogSumExp(session);
  }

  /**
   * log Σ exp over each of `rows` rows of `vocab` logits (row-major, starting at row 0), `CHUNK_ROWS` rows per run.
   * One run over all rows of a large vocabulary materialises intermediates of rows × vocab floats (60 × 151,936: 36 MB
   * each) whose first use at every new shape page-faults fresh memory: measured here 20–600 ms for 60 rows, against
   * 7–95 ms in runs of 8 rows (one small shape that the arena keeps warm).
   */
  async rows(logits: Float32Array, rows: number, vocab: number): Promise<Float32Array> {
    const out = new Float32Array(rows);
    for (let r = 0; r < rows; r += CHUNK_ROWS) {
      const n = Math.min(CHUNK_ROWS, rows - r);
      const res = await this.session.run({ x: new ort.Tensor('float32', logits.subarray(r * vocab, (r + n) * vocab), [n, vocab]) });
      out.set(res.y!.data as Float32Array, r);
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/**
 * ONNX model (opset 13): y = kv[rows, :, start:end, :] for a KV tensor [batch, heads, length, head_dim]: the row
 * selection and prefix cut of a cache (beam reorder, replicated rows, dropped oldest entries, a truncated prefix) as a
 * graph, so that a cache held in GPU memory is copied on the device instead of through the host.
 */
export function kvSelectModel(): Uint8Array {
  return opset13Model({
    name: 'superdraft_kv_select',
    node: [
      node([], ['axes'], 'Constant', [int64Attr('value', [2])]),
      node(['kv', 'rows'], ['picked'], 'Gather', [int('axis', 0)]),
      node(['picked', 'start', 'end', 'axes'], ['y'], 'Slice'),
    ],
    input: [
      tensorInfo('kv', DT.FLOAT, ['batch', 'heads', 'length', 'head_dim']),
      tensorInfo('rows', DT.INT64, ['rows']),
      tensorInfo('start', DT.INT64, [1]),
      tensorInfo('end', DT.INT64, [1]),
    ],
    output: [tensorInfo('y', DT.FLOAT, ['rows', 'heads', 'kept', 'head_dim'])],
  });
}
