/**
 * Small helper graphs that onnxruntime runs natively (vectorised) where JavaScript would loop over the vocabulary:
 * log-sum-exp of many logit rows at once, for verification passes. The graphs are built here as ONNX protobuf
 * bytes (a few dozen), so nothing model-specific and no extra file is involved.
 */
import * as ort from 'onnxruntime-node';

// ---- a minimal protobuf writer (varints and length-delimited fields: all a small ONNX graph needs)

function varint(n: number): number[] {
  const out: number[] = [];
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n; // int64 two's complement
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}
const fieldVarint = (field: number, n: number): number[] => [...varint((field << 3) | 0), ...varint(n)];
const fieldBytes = (field: number, bytes: number[]): number[] => [...varint((field << 3) | 2), ...varint(bytes.length), ...bytes];
const fieldString = (field: number, s: string): number[] => fieldBytes(field, [...Buffer.from(s, 'utf8')]);

const FLOAT = 1;
const INT64 = 7;
const ATTR_INT = 2;
const ATTR_TENSOR = 4;
const ATTR_INTS = 7;

/** ValueInfoProto of a tensor whose dims are symbolic names. */
function tensorInfo(name: string, elemType: number, dims: string[]): number[] {
  const shape = dims.flatMap((d) => fieldBytes(1, fieldString(2, d))); // TensorShapeProto.dim{dim_param}
  const tensorType = [...fieldVarint(1, elemType), ...fieldBytes(2, shape)]; // TypeProto.Tensor
  return [...fieldString(1, name), ...fieldBytes(2, fieldBytes(1, tensorType))]; // ValueInfoProto{name, type{tensor_type}}
}

function attrInts(name: string, values: number[]): number[] {
  return [...fieldString(1, name), ...values.flatMap((v) => fieldVarint(8, v)), ...fieldVarint(20, ATTR_INTS)];
}
function attrInt(name: string, value: number): number[] {
  return [...fieldString(1, name), ...fieldVarint(3, value), ...fieldVarint(20, ATTR_INT)];
}
/** A 1-D int64 TensorProto attribute (for a Constant node). */
function attrInt64Tensor(name: string, values: number[]): number[] {
  const tensor = [...fieldVarint(1, values.length), ...fieldVarint(2, INT64), ...values.flatMap((v) => fieldVarint(7, v))];
  return [...fieldString(1, name), ...fieldBytes(5, tensor), ...fieldVarint(20, ATTR_TENSOR)];
}

/** NodeProto: inputs, outputs, op type (default domain), attributes. */
function node(inputs: string[], outputs: string[], op: string, attrs: number[][] = []): number[] {
  return [
    ...inputs.flatMap((i) => fieldString(1, i)),
    ...outputs.flatMap((o) => fieldString(2, o)),
    ...fieldString(3, `${op}_${outputs[0]}`),
    ...fieldString(4, op),
    ...attrs.flatMap((a) => fieldBytes(5, a)),
  ];
}

/**
 * ONNX model (opset 13): y[n] = log Σ_v exp(x[n, v]), as m + log Σ exp(x − m) with m the row maximum. Written out
 * of elementwise nodes on purpose: onnxruntime vectorises Exp and the reductions, while its ReduceLogSumExp kernel
 * does not (124 rows × 8192: 0.5 ms against 4.6 ms here).
 */
export function logSumExpModel(): Uint8Array {
  const nodes = [
    node([], ['axes'], 'Constant', [attrInt64Tensor('value', [-1])]),
    node(['x'], ['m'], 'ReduceMax', [attrInts('axes', [-1]), attrInt('keepdims', 1)]),
    node(['x', 'm'], ['shifted'], 'Sub'),
    node(['shifted'], ['e'], 'Exp'),
    node(['e', 'axes'], ['s'], 'ReduceSum', [attrInt('keepdims', 1)]),
    node(['s'], ['logs'], 'Log'),
    node(['logs', 'm'], ['y1'], 'Add'),
    node(['y1', 'axes'], ['y'], 'Squeeze'),
  ];
  const graph = [
    ...nodes.flatMap((n) => fieldBytes(1, n)),
    ...fieldString(2, 'superdraft_logsumexp'),
    ...fieldBytes(11, tensorInfo('x', FLOAT, ['rows', 'vocab'])),
    ...fieldBytes(12, tensorInfo('y', FLOAT, ['rows'])),
  ];
  const opset = [...fieldString(1, ''), ...fieldVarint(2, 13)];
  return Uint8Array.from([...fieldVarint(1, 7), ...fieldString(2, 'superdraft'), ...fieldBytes(7, graph), ...fieldBytes(8, opset)]);
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
