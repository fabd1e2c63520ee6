/**
 * ONNX protobuf messages through protobufjs and the official schema (onnx.proto, next to this file). The bundles embed
 * its text (esbuild.mjs defines __ONNX_PROTO__), so nothing is looked up at run time: the packaged extension ships only
 * dist/*.js. Run from source (vitest, tsx), the file next to this one is read. Only the fields the graph rewriter touches are typed here; decoding keeps
 * every other field (unknown ones included) so that encoding writes the model back unchanged apart from the edits.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type * as protobuf from 'protobufjs';

export interface Dim {
  dim_value?: number | Long | null;
  dim_param?: string | null;
}
export interface TypeProto {
  tensor_type?: { elem_type?: number; shape?: { dim?: Dim[] } | null } | null;
}
export interface ValueInfo {
  name: string;
  type?: TypeProto | null;
}
export interface StringEntry {
  key: string;
  value: string;
}
export interface Tensor {
  name: string;
  dims?: (number | Long)[];
  data_type?: number;
  raw_data?: Uint8Array;
  data_location?: number;
  external_data?: StringEntry[];
}
export interface Attribute {
  name: string;
  type?: number;
  i?: number | Long;
  ints?: (number | Long)[];
  t?: Tensor | null;
}
export interface Node {
  name?: string;
  op_type: string;
  domain?: string;
  input: string[];
  output: string[];
  attribute?: Attribute[];
}
export interface Graph {
  name?: string;
  node: Node[];
  initializer: Tensor[];
  input: ValueInfo[];
  output: ValueInfo[];
  value_info: ValueInfo[];
}
export interface Model {
  ir_version?: number | Long;
  producer_name?: string;
  opset_import: { domain?: string; version?: number | Long }[];
  graph: Graph;
  metadata_props?: StringEntry[];
}
type Long = { toNumber(): number };

/** TensorProto.DataType values used here. */
export const DT = { FLOAT: 1, UINT8: 2, INT8: 3, INT64: 7, BOOL: 9, FLOAT16: 10, DOUBLE: 11, BFLOAT16: 16 } as const;
export const DATA_LOCATION_EXTERNAL = 1;
export const ATTR = { INT: 2, TENSOR: 4, INTS: 7 } as const;

let modelType: protobuf.Type | undefined;

declare const __ONNX_PROTO__: string | undefined;

function schemaText(): string {
  return typeof __ONNX_PROTO__ === 'string' ? __ONNX_PROTO__ : readFileSync(path.join(__dirname, 'onnx.proto'), 'utf8');
}

export function modelProto(): protobuf.Type {
  if (!modelType) {
    // Loaded on first use: the inference process starts without evaluating protobufjs (it needs it only when the
    // first native helper graph is built).
    const pb = require('protobufjs') as typeof protobuf;
    const root = pb.parse(schemaText(), { keepCase: true }).root;
    modelType = root.lookupType('onnx.ModelProto');
  }
  return modelType;
}

export function decodeModel(bytes: Uint8Array): Model {
  const t = modelProto();
  const m = t.decode(bytes) as unknown as Model;
  if (!m.graph) return m; // not a model (an empty file decodes to one without a graph): callers say so, naming the file
  m.graph.node ??= [];
  m.graph.initializer ??= [];
  m.graph.value_info ??= [];
  return m;
}

export function encodeModel(model: Model): Uint8Array {
  const t = modelProto();
  return t.encode(model as unknown as protobuf.Message).finish();
}

/** Every tensor of a graph stored as external data (initializers and node attributes), with its external_data entries. */
export function* externalTensors(model: Model): Generator<{ tensor: Tensor; entries: Map<string, string> }> {
  const tensors = [...model.graph.initializer, ...model.graph.node.flatMap((n) => (n.attribute ?? []).flatMap((a) => (a.t ? [a.t] : [])))];
  for (const t of tensors) if (t.data_location === DATA_LOCATION_EXTERNAL) yield { tensor: t, entries: new Map((t.external_data ?? []).map((e) => [e.key, e.value])) };
}

/** The external data files (locations, relative to the graph's folder) a graph's tensors are stored in. */
export function externalDataLocations(model: Model): string[] {
  const out = new Set<string>();
  for (const { entries } of externalTensors(model)) {
    const loc = entries.get('location');
    if (loc) out.add(loc);
  }
  return [...out];
}

export function toNum(v: number | Long | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/** An int64 tensor constant (raw little-endian data). */
export function int64Tensor(name: string, values: number[], dims: number[] = [values.length]): Tensor {
  const raw = new Uint8Array(values.length * 8);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return { name, dims, data_type: DT.INT64, raw_data: raw };
}

export function tensorInfo(name: string, elemType: number, dims?: (number | string)[]): ValueInfo {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: elemType,
        ...(dims ? { shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } : {}),
      },
    },
  };
}

export function defaultOpset(model: Model): number {
  const o = model.opset_import.find((x) => !x.domain || x.domain === 'ai.onnx');
  return toNum(o?.version) || 1;
}
