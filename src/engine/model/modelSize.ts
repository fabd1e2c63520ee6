/**
 * Model size and the thread policy that follows from it: the bytes of an ONNX file with its external data, whether a
 * model is "large" (its forwards dominate a request), and the default intra-op thread count.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { availableParallelism } from 'node:os';
import { decodeModel, externalDataLocations } from './onnx/proto';
import { containedPath } from './modelPaths';

/**
 * Intra-op threads when the user sets none. A small model (the embedded one is ~9 MB) decodes one token in about a
 * millisecond: thread hand-offs cost more than they save, and the editor needs the other cores. Measured here
 * (2 cores, one busy): 1 thread decodes ~2× faster per step and prefills 800 tokens in 210 ms against 320 ms.
 * Larger models get up to half the cores (at most 4).
 */
export function defaultThreads(modelFile: string): number {
  if (modelBytes(modelFile) < LARGE_MODEL_BYTES) return 1;
  return Math.max(1, Math.min(4, Math.floor(availableParallelism() / 2)));
}

/**
 * From this size on (ONNX file and external data) a model is "large": its forwards, not the engine's fixed per-draft
 * work, dominate a request, so the cost-driven policies (verifyPolicy.ts, coldPath.ts) apply. The embedded model
 * (~9 MB) stays below: its behaviour does not depend on the machine's load.
 */
export const LARGE_MODEL_BYTES = 100 * 1024 * 1024;

/**
 * Bytes of an ONNX file and its external data: the files its tensors name (a q4a8 companion graph reads
 * model_q4.onnx_data) and files next to it named after it (model.onnx_data, model.onnx.data).
 */
export function modelBytes(modelFile: string): number {
  try {
    const dir = path.dirname(modelFile);
    const base = path.basename(modelFile);
    const size = statSync(modelFile).size;
    const files = new Set<string>();
    for (const f of readdirSync(dir)) if (f !== base && f.startsWith(base) && /_data$|\.data$/.test(f)) files.add(f);
    // A graph-only file is small; one holding its weights is counted by its size (and not read here).
    if (size < GRAPH_ONLY_BYTES) {
      try {
        for (const loc of externalDataLocations(decodeModel(readFileSync(modelFile)))) files.add(loc);
      } catch {
        /* not readable as ONNX: reported when the session is created */
      }
    }
    let total = size;
    for (const f of files) {
      let file: string;
      try {
        file = containedPath(dir, f, 'external data location'); // the one path policy: nothing outside the folder is looked at
      } catch {
        continue; // onnxruntime refuses it when the session is created
      }
      if (existsSync(file)) total += statSync(file).size;
    }
    return total;
  } catch {
    return 0; // reported when the session is created
  }
}
/** Below this size an ONNX file is read for the external data it names (graphs with external data are ~0.1–1 MB; the embedded model, 9 MB, holds its weights). */
const GRAPH_ONLY_BYTES = 4 * 1024 * 1024;

