/** What `superdraft model prepare` reports, the names it gives the inputs and outputs it adds, and its error. */
import type { Model } from '../engine/model/onnx/proto';

export class PrepareError extends Error {}

export const SUPERPOSITION_WEIGHTS = 'token_weights';
export const LOGITS_TO_KEEP = 'logits_to_keep';
export const PRESENT_DELTA = 'present_delta';
/** 1: superposition input + logits_to_keep (+ fused cache split); 2: + present_delta.* outputs. */
export const PREPARE_VERSION = 2;

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

/** One graph file read, checked and (when `changed`) rewritten in memory, not yet written. */
export interface Plan {
  file: string;
  model: Model;
  report: VariantReport;
  changed: boolean;
}
