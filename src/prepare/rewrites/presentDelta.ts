/** Rewrite c: append-only cache outputs `present_delta.{i}.key / .value` (see prepare.ts). */
import { ATTR, DT, type Graph, type Node, type ValueInfo, tensorInfo } from '../../engine/model/onnx/proto';
import type { Editor } from '../graphEditor';
import { PRESENT_DELTA, PrepareError } from '../report';

const PRESENT = /^present\.(\d+)\.(key|value)$/;

/**
 * Attention ops that read the cache length from the mask (seqlens) rather than attending by it: the runtime's
 * append-only store feeds unused slots as masked positions, which such an op would take for entries. Graphs with
 * one get no present_delta.* (the runtime then fetches present.* as before).
 */
const MASK_LENGTH_ATTENTION = new Set(['GroupQueryAttention', 'PagedAttention', 'SparseAttention']);

export function deltasUnsupported(g: Graph): string | undefined {
  const n = g.node.find((x) => MASK_LENGTH_ATTENTION.has(x.op_type));
  return n ? `${n.op_type} ${n.name ?? ''} takes the cache length from the attention mask`.trim() : undefined;
}

/** `present.{i}.key/.value` outputs that have no `present_delta.{i}.*` counterpart yet (none where unsupported). */
export function missingDeltas(g: Graph): ValueInfo[] {
  if (deltasUnsupported(g)) return [];
  const names = new Set(g.output.map((o) => o.name));
  return g.output.filter((o) => {
    const m = PRESENT.exec(o.name);
    return m !== null && !names.has(`${PRESENT_DELTA}.${m[1]}.${m[2]}`);
  });
}

/**
 * c. `present_delta.{i}.*` = present.{i}.*[:, :, -sequence_length:, :], with sequence_length read from input_ids'
 * shape (dimension 1, the same before and after the superposition input). The slice copies values, never changes
 * them; the present outputs stay as they are.
 */
export function addPresentDeltas(file: string, g: Graph, ed: Editor, added: Node[]): number {
  const presents = missingDeltas(g);
  if (presents.length === 0) return 0;
  const ids = g.input.find((i) => i.name === 'input_ids');
  if (!ids) throw new PrepareError(`${file}: the graph has no "input_ids" input (not a decoder in the Optimum layout)`);
  const seqDim = ids.type?.tensor_type?.shape?.dim?.[1];
  const seqName = seqDim?.dim_param || 'sequence_length';
  const shape = ed.node('Shape', ['input_ids'], 'input_ids_shape');
  const seq = ed.node('Gather', [shape.out, ed.constInt64('seq_axis', [1], [1])], 'sequence_length', [{ name: 'axis', type: ATTR.INT, i: 0 }]);
  const start = ed.node('Neg', [seq.out], 'delta_start');
  const end = ed.constInt64('delta_end', [Number.MAX_SAFE_INTEGER]);
  const axis = ed.constInt64('delta_axis', [2]);
  added.push(shape.node, seq.node, start.node);
  for (const p of presents) {
    const [, layer, kind] = PRESENT.exec(p.name)!;
    const dims = p.type?.tensor_type?.shape?.dim ?? [];
    if (dims.length !== 4) throw new PrepareError(`${file}: output ${p.name} has ${dims.length} dimensions; expected [batch, heads, total_sequence_length, head_dim]`);
    const name = `${PRESENT_DELTA}.${layer}.${kind}`;
    const sl = ed.node('Slice', [p.name, start.out, end, axis], `${PRESENT_DELTA}_${layer}_${kind}`);
    sl.node.output = [name];
    added.push(sl.node);
    const out = tensorInfo(name, p.type?.tensor_type?.elem_type ?? DT.FLOAT);
    out.type!.tensor_type!.shape = { dim: dims.map((d, j) => (j === 2 ? { dim_param: seqName } : { ...d })) };
    g.output.push(out);
  }
  return presents.length / 2;
}
