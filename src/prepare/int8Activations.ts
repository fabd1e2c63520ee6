/** Rewrite e: the 8-bit-activation companion of a 4-bit graph (`--int8-activations`; see prepare.ts). */
import { ATTR, type Graph, type Node, decodeModel, encodeModel, toNum } from '../engine/model/onnx/proto';
import type { Plan, VariantReport } from './report';

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
export function planInt8Activations(p: Plan, all: Set<string>): Plan | undefined {
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
