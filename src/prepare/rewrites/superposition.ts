/**
 * Rewrite a: the superposition input (see prepare.ts). `input_ids` becomes [b, s, k] with `token_weights` [b, s, k]
 * beside it, and the embedding lookup's output becomes ReduceSum_k(E[ids] · w).
 */
import { ATTR, DT, type Graph, type Node, tensorInfo, toNum } from '../../engine/model/onnx/proto';
import { elemTypeOf, type Editor } from '../graphEditor';
import { PrepareError, SUPERPOSITION_WEIGHTS } from '../report';

/** Adds the superposition input to `g` (new nodes go to `added`); returns the embedding lookup it rewired. */
export function addSuperpositionInput(file: string, g: Graph, ed: Editor, added: Node[]): string {
  const idsInput = g.input.find((i) => i.name === 'input_ids');
  if (!idsInput) throw new PrepareError(`${file}: the graph has no "input_ids" input (not a decoder in the Optimum layout)`);
  const lookups = g.node.filter((n) => (n.op_type === 'Gather' || n.op_type === 'GatherBlockQuantized') && n.input[1] === 'input_ids');
  if (lookups.length === 0) throw new PrepareError(`${file}: no embedding lookup (Gather or GatherBlockQuantized on "input_ids") found`);
  if (lookups.length > 1) throw new PrepareError(`${file}: ${lookups.length} Gather nodes read "input_ids"; expected one embedding lookup`);
  const lookup = lookups[0];
  const axis = toNum((lookup.attribute ?? []).find((a) => a.name === (lookup.op_type === 'Gather' ? 'axis' : 'gather_axis'))?.i);
  if (axis !== 0) throw new PrepareError(`${file}: the embedding lookup ${lookup.name} gathers on axis ${axis}, expected 0`);
  // Other consumers of input_ids (shape arithmetic) read the first candidate: [b, s] as before.
  const first = ed.node('Gather', ['input_ids', ed.constInt64('first_candidate', [0], [])], 'input_ids_first', [{ name: 'axis', type: ATTR.INT, i: 2 }]);
  for (const n of g.node) if (n !== lookup) n.input = n.input.map((x) => (x === 'input_ids' ? first.out : x));
  for (const o of g.output) if (o.name === 'input_ids') throw new PrepareError(`${file}: input_ids is also a graph output`);
  // A table stored 8-bit (onnxruntime's dynamic quantization: Gather on the int8/uint8 table, then a per-tensor
  // DequantizeLinear) is summed after the dequantization, which works element-wise on [b, s, k, hidden] as well.
  const consumers = g.node.filter((n) => n.input.includes(lookup.output[0]));
  const dq = consumers.length === 1 && consumers[0].op_type === 'DequantizeLinear' && consumers[0].input[0] === lookup.output[0] ? consumers[0] : undefined;
  if (dq && (g.initializer.find((t) => t.name === dq.input[1])?.dims?.length ?? 0) > 0) {
    throw new PrepareError(`${file}: the embedding table's DequantizeLinear ${dq.name} is per-axis; only per-tensor is supported`);
  }
  const summed = dq ?? lookup;
  const embOut = summed.output[0];
  const gathered = ed.name('embedding_candidates');
  summed.output = [gathered]; // [b, s, k, hidden]
  let table = dq ? elemTypeOf(g, dq.input[1]) : elemTypeOf(g, lookup.op_type === 'Gather' ? lookup.input[0] : lookup.input[2]);
  const w4 = ed.unsqueeze(SUPERPOSITION_WEIGHTS, [-1], 'token_weights_unsqueeze');
  let weights = w4.out;
  const castNodes: Node[] = [];
  if (table === undefined && ed.opset >= 15) {
    const c = ed.node('CastLike', [w4.out, gathered], 'token_weights_cast');
    castNodes.push(c.node);
    weights = c.out;
  } else {
    table ??= DT.FLOAT;
    if (table !== DT.FLOAT) {
      const c = ed.node('Cast', [w4.out], 'token_weights_cast', [{ name: 'to', type: ATTR.INT, i: table }]);
      castNodes.push(c.node);
      weights = c.out;
    }
  }
  const mul = ed.node('Mul', [gathered, weights], 'weighted_embeddings');
  const sum = ed.reduceSum(mul.out, [2], 'superposed_embedding');
  sum.node.output = [embOut];
  added.push(first.node, w4.node, ...castNodes, mul.node, sum.node);
  const idsDims = idsInput.type?.tensor_type?.shape?.dim ?? [];
  const b = idsDims[0]?.dim_param || 'batch_size';
  const s = idsDims[1]?.dim_param || 'sequence_length';
  idsInput.type = tensorInfo('input_ids', DT.INT64, [b, s, 'superposition_size']).type;
  const at = g.input.indexOf(idsInput);
  g.input.splice(at + 1, 0, tensorInfo(SUPERPOSITION_WEIGHTS, DT.FLOAT, [b, s, 'superposition_size']));
  return `${lookup.op_type} ${lookup.name ?? ''}${dq ? ` + DequantizeLinear ${dq.name ?? ''}` : ''}`.trim();
}
