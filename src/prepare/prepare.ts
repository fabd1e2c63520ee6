/**
 * `superdraft model prepare DIR`: rewrites the ONNX decoder graph(s) of a Hugging Face (Optimum / onnx-community)
 * model directory so that every Superdraft strategy runs on it:
 *
 *  a. superposition input: `input_ids` [b, s, k] (int64) + `token_weights` [b, s, k] (float) feeding
 *     ReduceSum_k(E[ids] · w) into whatever consumed the embedding lookup. With k = 1 and weight 1 this is E[ids]
 *     (exactly: one product by 1 and a sum of one term). The lookup may be a Gather on the float table, a Gather on a
 *     dequantized table, or com.microsoft GatherBlockQuantized (indices of any rank). Every other consumer of
 *     `input_ids` (shape computations) reads `input_ids[..., 0]` so they see [b, s] as before.
 *  b. logits only where asked: an int64 input `logits_to_keep` (scalar or [1]); the final hidden state is sliced to
 *     its last N positions before the LM head (0 = all), so a prefill computes one row of logits instead of s.
 *  c. append-only cache outputs: `present_delta.{i}.key` / `.value`, the entries this forward appends (the last
 *     `sequence_length` positions of `present.{i}.*` along the sequence axis), so that the runtime keeps batch-1
 *     caches in an append-only store instead of fetching the whole `present.*` every step. A directory prepared
 *     before these outputs existed gets only them (the other rewrites are already there).
 *  d. config.json's `superdraft` block records what was done (other keys kept).
 *  e. with `--int8-activations`: next to each graph with 4-bit MatMulNBits weights, a companion graph
 *     (`model_q4.onnx` → `model_q4a8.onnx`, variant `q4a8`) whose MatMulNBits nodes have `accuracy_level` 4: onnxruntime
 *     then quantizes the activations to 8 bits per block and multiplies in integers (VNNI / AVX2), as llama.cpp does for
 *     Q4_0 (its activations go to Q8_0). It reads the same external data file; only the ~300 KB graph is new. The
 *     logits move by about what the peer's differ by, so it is a separate variant the user picks, never the default.
 *
 * Only the graph (protobuf) is read and written: initializers stored as external data (`*.onnx_data`) keep their
 * location entries; the data file is size-checked against the tensors' offsets and lengths, never read. Every file
 * is written to a temporary name next to it and renamed; all checks run before anything is written, so a failure
 * leaves the directory as it was. Running it again on a prepared directory changes nothing.
 */
import { existsSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  ATTR,
  DT,
  type Graph,
  type Model,
  type Node,
  type ValueInfo,
  decodeModel,
  defaultOpset,
  encodeModel,
  externalTensors,
  int64Tensor,
  tensorInfo,
  toNum,
} from '../engine/model/onnx/proto';
import { MODEL_TYPES, familyOf } from '../engine/model/config';
import { checkContained, containedPath } from '../engine/model/modelPaths';

export class PrepareError extends Error {}

export const SUPERPOSITION_WEIGHTS = 'token_weights';
export const LOGITS_TO_KEEP = 'logits_to_keep';
export const PRESENT_DELTA = 'present_delta';
/** 1: superposition input + logits_to_keep (+ fused cache split); 2: + present_delta.* outputs. */
const PREPARE_VERSION = 2;

export interface VariantReport {
  file: string;
  /** 'prepared' now, or 'already' (no change). */
  status: 'prepared' | 'already';
  embedding?: string;
  lmHead?: string;
  /** Layers whose fused key_value cache (gpt_bigcode) was split into key and value. */
  splitCache?: number;
  /** Layers given present_delta.{i}.key / .value outputs by this run. */
  deltas?: number;
  /** Why the graph gets no present_delta.* outputs. */
  noDeltas?: string;
  /** A companion graph with 8-bit activations (e. above): the variant file it was made from. */
  int8ActivationsFrom?: string;
  graphBytes: number;
  externalData: { file: string; bytes: number }[];
}

export interface PrepareReport {
  dir: string;
  family: string;
  changed: boolean;
  variants: VariantReport[];
  ms: number;
}

/** ONNX files of a model directory: onnx/*.onnx (Hub layout) and *.onnx at the top. */
export function onnxFiles(dir: string): string[] {
  const out: string[] = [];
  for (const sub of ['', 'onnx']) {
    const d = path.join(dir, sub);
    if (!existsSync(d) || !statSync(d).isDirectory()) continue;
    for (const f of readdirSync(d).sort()) {
      // A graph that is a symlink out of the folder is refused (the one path policy, engine/model/modelPaths.ts).
      if (f.endsWith('.onnx') && statSync(path.join(d, f)).isFile()) out.push(checkContained(dir, path.join(d, f), 'the ONNX file'));
    }
  }
  return out;
}

/** External data files a graph refers to, each checked to hold every tensor's bytes. */
export function checkExternalData(file: string, model: Model): { file: string; bytes: number }[] {
  const need = new Map<string, { end: number; tensor: string }>();
  for (const { tensor: t, entries } of externalTensors(model)) {
    const loc = entries.get('location');
    if (!loc) throw new PrepareError(`${file}: tensor ${t.name} is stored externally but names no location`);
    const end = Number(entries.get('offset') ?? 0) + Number(entries.get('length') ?? 0);
    const prev = need.get(loc);
    if (!prev || end > prev.end) need.set(loc, { end, tensor: t.name });
  }
  const files: { file: string; bytes: number }[] = [];
  for (const [loc, { end, tensor }] of need) {
    let f: string;
    try {
      // The one path policy: inside the graph's folder, symlinks followed (onnxruntime refuses such paths too).
      f = containedPath(path.dirname(file), loc, `${file}: tensor ${tensor}'s external data location`);
    } catch (e) {
      throw new PrepareError((e as Error).message);
    }
    if (!existsSync(f)) throw new PrepareError(`${file}: external data file ${f} is missing`);
    const size = statSync(f).size;
    if (size < end) throw new PrepareError(`${file}: external data file ${f} is truncated (${size} bytes; tensor ${tensor} ends at byte ${end})`);
    files.push({ file: f, bytes: size });
  }
  return files;
}

interface Plan {
  file: string;
  model: Model;
  report: VariantReport;
  changed: boolean;
}

class Editor {
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
function elemTypeOf(g: Graph, name: string): number | undefined {
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

function isPrepared(g: Graph): boolean {
  if (g.input.some((i) => FUSED_CACHE.test(i.name))) return false;
  return g.input.some((i) => i.name === SUPERPOSITION_WEIGHTS) && g.input.some((i) => i.name === LOGITS_TO_KEEP) && missingDeltas(g).length === 0;
}

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
function missingDeltas(g: Graph): ValueInfo[] {
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
function addPresentDeltas(file: string, g: Graph, ed: Editor, added: Node[]): number {
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

const FUSED_CACHE = /^past_key_values\.(\d+)\.key_value$/;

/**
 * gpt_bigcode's Optimum cache is one tensor per layer: past_key_values.{i}.key_value, [b, past, 2·head_dim] with
 * multi-query attention ([b, heads, past, 2·head_dim] without). The engine's cache is key and value apart
 * ([b, kv_heads, past, head_dim]): new inputs are concatenated into the fused tensor the graph reads, and the fused
 * present is sliced into present.{i}.key / .value. The values are copied, never changed.
 */
function splitFusedCache(file: string, g: Graph, ed: Editor, added: Node[]): number {
  const fused = g.input.filter((i) => FUSED_CACHE.test(i.name));
  for (const inp of fused) {
    const layer = FUSED_CACHE.exec(inp.name)![1];
    const dims = inp.type?.tensor_type?.shape?.dim ?? [];
    const width = toNum(dims[dims.length - 1]?.dim_value);
    if ((dims.length !== 3 && dims.length !== 4) || !width || width % 2 !== 0) {
      throw new PrepareError(`${file}: ${inp.name} has an unexpected shape (expected [batch, past, 2*head_dim] or [batch, heads, past, 2*head_dim])`);
    }
    const hd = width / 2;
    const mqa = dims.length === 3;
    const b = dims[0]?.dim_param || 'batch_size';
    const past = dims[mqa ? 1 : 2]?.dim_param || 'past_sequence_length';
    const heads: number | string = mqa ? 1 : dims[1]?.dim_param || toNum(dims[1]?.dim_value);
    const kName = `past_key_values.${layer}.key`;
    const vName = `past_key_values.${layer}.value`;
    let kIn = kName;
    let vIn = vName;
    if (mqa) {
      const ks = ed.squeeze(kName, [1], `past_key_squeeze_${layer}`);
      const vs = ed.squeeze(vName, [1], `past_value_squeeze_${layer}`);
      added.push(ks.node, vs.node);
      kIn = ks.out;
      vIn = vs.out;
    }
    const cat = ed.node('Concat', [kIn, vIn], `past_key_value_fuse_${layer}`, [{ name: 'axis', type: ATTR.INT, i: -1 }]);
    cat.node.output = [inp.name];
    added.push(cat.node);
    const at = g.input.indexOf(inp);
    g.input.splice(at, 1, tensorInfo(kName, DT.FLOAT, [b, heads, past, hd]), tensorInfo(vName, DT.FLOAT, [b, heads, past, hd]));

    const outName = `present.${layer}.key_value`;
    const outAt = g.output.findIndex((o) => o.name === outName);
    if (outAt < 0) throw new PrepareError(`${file}: ${inp.name} has no matching output ${outName}`);
    const total = g.output[outAt].type?.tensor_type?.shape?.dim?.[mqa ? 1 : 2]?.dim_param || 'total_sequence_length';
    const parts: [string, number, number][] = [[`present.${layer}.key`, 0, hd], [`present.${layer}.value`, hd, 2 * hd]];
    for (const [name, start, end] of parts) {
      const sl = ed.slice(outName, start, end, -1, `${name.replace(/\./g, '_')}_slice`);
      added.push(sl.node);
      if (mqa) {
        const un = ed.unsqueeze(sl.out, [1], `${name.replace(/\./g, '_')}_unsqueeze`);
        un.node.output = [name];
        added.push(un.node);
      } else sl.node.output = [name];
    }
    g.output.splice(outAt, 1, tensorInfo(`present.${layer}.key`, DT.FLOAT, [b, heads, total, hd]), tensorInfo(`present.${layer}.value`, DT.FLOAT, [b, heads, total, hd]));
  }
  return fused.length;
}

function planVariant(file: string): Plan {
  let model: Model;
  const bytes = readFileSync(file);
  try {
    model = decodeModel(bytes);
  } catch (e) {
    throw new PrepareError(`${file}: not a readable ONNX model (${(e as Error).message})`);
  }
  if (!model.graph) throw new PrepareError(`${file}: not an ONNX model (no graph)`);
  const externalData = checkExternalData(file, model);
  const g = model.graph;
  const report: VariantReport = { file, status: 'already', graphBytes: bytes.length, externalData };
  const noDeltas = deltasUnsupported(g);
  if (noDeltas) report.noDeltas = noDeltas;
  if (isPrepared(g)) return { file, model, report, changed: false };
  const hasTW = g.input.some((i) => i.name === SUPERPOSITION_WEIGHTS);
  const ed = new Editor(g, defaultOpset(model));
  const added: Node[] = [];
  const split = splitFusedCache(file, g, ed, added);
  if (split > 0) report.splitCache = split;

  // a. superposition input
  if (!hasTW) {
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
    report.embedding = `${lookup.op_type} ${lookup.name ?? ''}${dq ? ` + DequantizeLinear ${dq.name ?? ''}` : ''}`.trim();
  }

  // b. logits_to_keep
  if (!g.input.some((i) => i.name === LOGITS_TO_KEEP)) {
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
    report.lmHead = `${head.op_type} ${head.name ?? ''}`.trim();
  }
  // c. present_delta.* (after the fused cache split, which is what names present.{i}.key / .value)
  const deltas = addPresentDeltas(file, g, ed, added);
  if (deltas > 0) report.deltas = deltas;
  // Topological order: new nodes go just before their first consumer; simplest valid order is to sort once.
  g.node = topoSort([...g.node, ...added], g);
  report.status = 'prepared';
  return { file, model, report, changed: true };
}

function topoSort(nodes: Node[], g: Graph): Node[] {
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

function writeAtomic(file: string, data: Uint8Array | string): string {
  const tmp = `${file}.superdraft-${process.pid}.tmp`;
  writeFileSync(tmp, data);
  return tmp;
}

export interface PrepareOptions {
  /** Only these ONNX files (default: every onnx/*.onnx and *.onnx). */
  files?: string[];
  /** Also write the 8-bit-activation companion of each 4-bit graph (e. above). */
  int8Activations?: boolean;
}

/** `accuracy_level` of MatMulNBits that makes onnxruntime quantize activations to int8 (its CompInt8). */
export const INT8_ACTIVATIONS_LEVEL = 4;

/** The variant whose weights a variant multiplies (q4a8 → q4; others are their own). */
export function weightsVariant(variant: string): string {
  return variant.replace(/a8$/, '');
}

/** The companion graph's file for `file` (model_q4.onnx → model_q4a8.onnx). */
export function int8ActivationsFile(file: string): string {
  return file.replace(/\.onnx$/, 'a8.onnx');
}

function matMulNBits(g: Graph): Node[] {
  return g.node.filter((n) => n.op_type === 'MatMulNBits');
}

/**
 * The 8-bit-activation companion of a planned graph, or undefined when it has no 4-bit MatMulNBits below level 4,
 * is itself a companion, or its companion is already there and up to date.
 */
function planInt8Activations(p: Plan, all: Set<string>): Plan | undefined {
  if (/a8\.onnx$/.test(p.file)) return undefined;
  const nodes = matMulNBits(p.model.graph).filter((n) => toNum((n.attribute ?? []).find((a) => a.name === 'bits')?.i ?? 4) === 4);
  if (nodes.length === 0 || nodes.every((n) => toNum((n.attribute ?? []).find((a) => a.name === 'accuracy_level')?.i ?? 0) >= INT8_ACTIVATIONS_LEVEL)) return undefined;
  const file = int8ActivationsFile(p.file);
  if (all.has(file) && !p.changed) return undefined;
  const model = decodeModel(encodeModel(p.model));
  for (const n of matMulNBits(model.graph)) {
    const attrs = (n.attribute ?? []).filter((a) => a.name !== 'accuracy_level');
    attrs.push({ name: 'accuracy_level', type: ATTR.INT, i: INT8_ACTIVATIONS_LEVEL });
    n.attribute = attrs;
  }
  const report: VariantReport = { ...p.report, file, status: 'prepared', int8ActivationsFrom: p.file };
  return { file, model, report, changed: true };
}

export function prepareModel(dir: string, opts: PrepareOptions = {}): PrepareReport {
  const t0 = Date.now();
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new PrepareError(`model directory not found: ${dir}`);
  const cfgFile = containedPath(dir, 'config.json', 'config.json');
  if (!existsSync(cfgFile)) throw new PrepareError(`model config not found: ${cfgFile}`);
  let cfg: Record<string, unknown>;
  try {
    cfg = JSON.parse(readFileSync(cfgFile, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new PrepareError(`model config is not valid JSON: ${cfgFile}: ${(e as Error).message}`);
  }
  const modelType = typeof cfg.model_type === 'string' ? cfg.model_type : undefined;
  const family = familyOf(modelType);
  if (!family) {
    throw new PrepareError(`${cfgFile}: unknown model_type ${JSON.stringify(cfg.model_type ?? null)} (supported: ${MODEL_TYPES.join(', ')})`);
  }
  const tok = containedPath(dir, 'tokenizer.json', 'tokenizer.json');
  if (!existsSync(tok)) throw new PrepareError(`tokenizer not found: ${tok} (the model directory needs the Hub's tokenizer.json)`);
  const files = opts.files ?? onnxFiles(dir);
  if (files.length === 0) throw new PrepareError(`no ONNX model in ${dir} (looked for onnx/*.onnx and *.onnx)`);
  // Check and plan every variant before writing any.
  const plans = files.map((f) => planVariant(f));
  if (opts.int8Activations) {
    const all = new Set(files);
    for (const p of [...plans]) {
      const c = planInt8Activations(p, all);
      if (!c) continue;
      const at = plans.findIndex((q) => q.file === c.file);
      if (at >= 0) plans[at] = c;
      else plans.push(c);
    }
  }
  const changed = plans.some((p) => p.changed);
  const sd = (typeof cfg.superdraft === 'object' && cfg.superdraft !== null ? cfg.superdraft : {}) as Record<string, unknown>;
  const wantCfg = {
    ...cfg,
    superdraft: {
      ...sd,
      superposition: { input: 'input_ids', weights: SUPERPOSITION_WEIGHTS },
      logits_to_keep: LOGITS_TO_KEEP,
      present_delta: `${PRESENT_DELTA}.{i}.key / .value`,
      prepared: {
        version: PREPARE_VERSION,
        family,
        variants: Object.fromEntries(
          plans.map((p) => {
            const key = path.relative(dir, p.file).split(path.sep).join('/');
            const prev = (sd.prepared as { variants?: Record<string, { embedding?: string; lm_head?: string; int8_activations_from?: string }> } | undefined)?.variants?.[key];
            // Layers with present_delta.{i}.key / .value outputs (0: the runtime fetches present.* every step).
            const deltaLayers = p.model.graph.output.filter((o) => o.name.startsWith(`${PRESENT_DELTA}.`)).length / 2;
            // A companion with 8-bit activations (e.) names the graph it was made from.
            const from = p.report.int8ActivationsFrom ? path.relative(dir, p.report.int8ActivationsFrom).split(path.sep).join('/') : prev?.int8_activations_from;
            return [key, { embedding: p.report.embedding ?? prev?.embedding, lm_head: p.report.lmHead ?? prev?.lm_head, present_delta_layers: deltaLayers, ...(from ? { int8_activations_from: from } : {}) }];
          }),
        ),
      },
    },
  };
  const cfgChanged = JSON.stringify(cfg.superdraft ?? null) !== JSON.stringify(wantCfg.superdraft);
  const temps: [string, string][] = [];
  try {
    for (const p of plans) if (p.changed) temps.push([writeAtomic(p.file, encodeModel(p.model)), p.file]);
    if (cfgChanged) temps.push([writeAtomic(cfgFile, JSON.stringify(wantCfg, null, 2) + '\n'), cfgFile]);
  } catch (e) {
    for (const [tmp] of temps) {
      try {
        unlinkSync(tmp);
      } catch {
        /* already gone */
      }
    }
    throw new PrepareError(`could not write ${dir}: ${(e as Error).message}`);
  }
  for (const [tmp, file] of temps) renameSync(tmp, file);
  return { dir, family, changed: changed || cfgChanged, variants: plans.map((p) => p.report), ms: Date.now() - t0 };
}

/** What `prepare` adds that a graph file has (reads the graph, not the external data). */
export function graphStatus(file: string): { superposition: boolean; logitsToKeep: boolean; presentDelta: boolean; noDeltas?: string } {
  let g;
  try {
    g = decodeModel(readFileSync(file)).graph;
  } catch (e) {
    throw new PrepareError(`${file}: not a readable ONNX model (${(e as Error).message})`);
  }
  if (!g) throw new PrepareError(`${file}: not an ONNX model (no graph)`);
  const noDeltas = deltasUnsupported(g);
  return {
    ...(noDeltas ? { noDeltas } : {}),
    superposition: g.input.some((i) => i.name === SUPERPOSITION_WEIGHTS),
    logitsToKeep: g.input.some((i) => i.name === LOGITS_TO_KEEP),
    presentDelta: g.output.some((o) => o.name.startsWith(`${PRESENT_DELTA}.`)) && missingDeltas(g).length === 0,
  };
}
