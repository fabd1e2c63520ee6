/** Adding nodes to an ONNX graph: fresh names, int64 constants, opset-aware Unsqueeze/Squeeze/ReduceSum; types and order. */
import { ATTR, type Graph, type Node, int64Tensor, toNum } from '../engine/model/onnx/proto';
import { PrepareError } from './report';

/** Builds nodes with names no existing node or initializer uses (`/superdraft/<base>_<n>`). */
export class Editor {
  private n = 0;
  constructor(
    readonly g: Graph,
    readonly opset: number,
  ) {}
  name(base: string): string {
    const taken = (s: string): boolean => this.g.node.some((x) => x.output.includes(s)) || this.g.initializer.some((t) => t.name === s);
    let s: string;
    do s = `/superdraft/${base}_${this.n++}`;
    while (taken(s));
    return s;
  }
  constInt64(base: string, values: number[], dims?: number[]): string {
    const name = this.name(base);
    this.g.initializer.push(int64Tensor(name, values, dims));
    return name;
  }
  node(op: string, inputs: string[], base: string, attrs: Node['attribute'] = []): { node: Node; out: string } {
    const out = this.name(`${base}_out`);
    const node: Node = { name: this.name(base), op_type: op, domain: '', input: inputs, output: [out], attribute: attrs };
    return { node, out };
  }
  unsqueeze(x: string, axes: number[], base: string): { node: Node; out: string } {
    if (this.opset >= 13) return this.node('Unsqueeze', [x, this.constInt64(`${base}_axes`, axes)], base);
    return this.node('Unsqueeze', [x], base, [{ name: 'axes', type: ATTR.INTS, ints: axes }]);
  }
  squeeze(x: string, axes: number[], base: string): { node: Node; out: string } {
    if (this.opset >= 13) return this.node('Squeeze', [x, this.constInt64(`${base}_axes`, axes)], base);
    return this.node('Squeeze', [x], base, [{ name: 'axes', type: ATTR.INTS, ints: axes }]);
  }
  slice(x: string, start: number, end: number, axis: number, base: string): { node: Node; out: string } {
    return this.node('Slice', [x, this.constInt64(`${base}_start`, [start]), this.constInt64(`${base}_end`, [end]), this.constInt64(`${base}_axis`, [axis])], base);
  }
  reduceSum(x: string, axes: number[], base: string): { node: Node; out: string } {
    if (this.opset >= 13) return this.node('ReduceSum', [x, this.constInt64(`${base}_axes`, axes)], base, [{ name: 'keepdims', type: ATTR.INT, i: 0 }]);
    return this.node('ReduceSum', [x], base, [{ name: 'axes', type: ATTR.INTS, ints: axes }, { name: 'keepdims', type: ATTR.INT, i: 0 }]);
  }
}

/** Element type of a tensor name when the graph states it (initializer, value_info, input). */
export function elemTypeOf(g: Graph, name: string): number | undefined {
  const init = g.initializer.find((t) => t.name === name);
  if (init) return init.data_type;
  const vi = [...g.value_info, ...g.input, ...g.output].find((v) => v.name === name);
  const t = vi?.type?.tensor_type?.elem_type;
  if (t) return t;
  const producer = g.node.find((n) => n.output.includes(name));
  if (producer && (producer.op_type === 'DequantizeLinear' || producer.op_type === 'DequantizeBlockwise')) return elemTypeOf(g, producer.input[1]);
  if (producer && producer.op_type === 'Cast') return toNum((producer.attribute ?? []).find((a) => a.name === 'to')?.i);
  return undefined;
}

/** The nodes in an order where every input is produced before it is read (new nodes placed before their consumers). */
export function topoSort(nodes: Node[], g: Graph): Node[] {
  const available = new Set<string>([...g.input.map((i) => i.name), ...g.initializer.map((t) => t.name), '']);
  const producer = new Map<string, Node>();
  for (const n of nodes) for (const o of n.output) producer.set(o, n);
  const done = new Set<Node>();
  const out: Node[] = [];
  const visit = (n: Node, depth: number): void => {
    if (done.has(n)) return;
    if (depth > nodes.length) throw new PrepareError('the graph has a cycle');
    done.add(n);
    for (const i of n.input) {
      if (available.has(i)) continue;
      const p = producer.get(i);
      if (p) visit(p, depth + 1);
    }
    out.push(n);
  };
  // Iterative over roots to keep recursion shallow for the original (already ordered) nodes.
  for (const n of nodes) visit(n, 0);
  return out;
}
