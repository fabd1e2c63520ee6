/**
 * Rewrite b: logits only where asked (see prepare.ts). An int64 input `logits_to_keep` slices the final hidden state
 * to its last N positions before the LM head (0 = all).
 */
import { DT, type Graph, type Node, tensorInfo } from '../../engine/model/onnx/proto';
import type { Editor } from '../graphEditor';
import { LOGITS_TO_KEEP, PrepareError } from '../report';

/** Adds `logits_to_keep` to `g` (new nodes go to `added`); returns the LM head it slices before. */
export function addLogitsToKeep(file: string, g: Graph, ed: Editor, added: Node[]): string {
  const logitsOut = g.output.find((o) => o.name === 'logits');
  if (!logitsOut) throw new PrepareError(`${file}: the graph has no "logits" output`);
  // The LM head: the nearest matrix product upstream of `logits` (through casts, bias, scaling, soft-capping and
  // the rescaling of a dynamically quantized MatMulInteger), breadth first.
  const HEAD_OPS = new Set(['MatMul', 'MatMulNBits', 'Gemm', 'MatMulInteger', 'DynamicQuantizeMatMul', 'MatMulBnb4']);
  const PASS_OPS = new Set(['Identity', 'Cast', 'Add', 'Mul', 'Div', 'Tanh']);
  let head: Node | undefined;
  let frontier = ['logits'];
  for (let hops = 0; hops < 6 && !head && frontier.length > 0; hops++) {
    const next: string[] = [];
    for (const t of frontier) {
      const p = g.node.find((n) => n.output.includes(t));
      if (!p) continue;
      if (HEAD_OPS.has(p.op_type)) {
        head = p;
        break;
      }
      if (PASS_OPS.has(p.op_type)) next.push(...p.input.filter((i) => i && !g.initializer.some((x) => x.name === i)));
    }
    frontier = next;
  }
  if (!head) throw new PrepareError(`${file}: no LM head (MatMul feeding "logits") found`);
  const hidden = head.input[0];
  const keep = ed.node('Reshape', [LOGITS_TO_KEEP, ed.constInt64('keep_shape', [1])], 'logits_to_keep_1d');
  const starts = ed.node('Neg', [keep.out], 'logits_to_keep_start');
  const slice = ed.node('Slice', [hidden, starts.out, ed.constInt64('keep_end', [Number.MAX_SAFE_INTEGER]), ed.constInt64('keep_axis', [1])], 'hidden_last_rows');
  head.input[0] = slice.out;
  added.push(keep.node, starts.node, slice.node);
  g.input.push(tensorInfo(LOGITS_TO_KEEP, DT.INT64));
  const dims = logitsOut.type?.tensor_type?.shape?.dim;
  if (dims && dims.length >= 2) dims[1] = { dim_param: 'logits_sequence_length' };
  // Shapes inferred for the old graph no longer hold downstream of the slice.
  const stale = new Set<string>();
  const queue = [slice.out];
  while (queue.length) {
    const t = queue.pop()!;
    for (const n of g.node) if (n.input.includes(t)) for (const o of n.output) if (!stale.has(o)) (stale.add(o), queue.push(o));
  }
  g.value_info = g.value_info.filter((v) => !stale.has(v.name));
  return `${head.op_type} ${head.name ?? ''}`.trim();
}
