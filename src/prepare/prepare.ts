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
 *
 * The rooms: report.ts (names, report, error), externalData.ts, graphEditor.ts, rewrites/ (one file a rewrite),
 * int8Activations.ts; this file plans every graph, then writes them all or none.
 */
import { existsSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { type Graph, type Model, type Node, decodeModel, defaultOpset, encodeModel } from '../engine/model/onnx/proto';
import { MODEL_TYPES, familyOf } from '../engine/model/config';
import { containedPath } from '../engine/model/modelPaths';
import { checkExternalData, onnxFiles } from './externalData';
import { Editor, topoSort } from './graphEditor';
import { planInt8Activations } from './int8Activations';
import { LOGITS_TO_KEEP, PRESENT_DELTA, PREPARE_VERSION, PrepareError, SUPERPOSITION_WEIGHTS, type Plan, type PrepareReport, type VariantReport } from './report';
import { FUSED_CACHE, splitFusedCache } from './rewrites/fusedCache';
import { addLogitsToKeep } from './rewrites/logitsToKeep';
import { addPresentDeltas, deltasUnsupported, missingDeltas } from './rewrites/presentDelta';
import { addSuperpositionInput } from './rewrites/superposition';

export { checkExternalData, onnxFiles } from './externalData';
export { INT8_ACTIVATIONS_LEVEL, int8ActivationsFile, weightsVariant } from './int8Activations';
export { LOGITS_TO_KEEP, PRESENT_DELTA, PrepareError, SUPERPOSITION_WEIGHTS, type PrepareReport, type VariantReport } from './report';
export { deltasUnsupported } from './rewrites/presentDelta';

function isPrepared(g: Graph): boolean {
  if (g.input.some((i) => FUSED_CACHE.test(i.name))) return false;
  return g.input.some((i) => i.name === SUPERPOSITION_WEIGHTS) && g.input.some((i) => i.name === LOGITS_TO_KEEP) && missingDeltas(g).length === 0;
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
  if (!hasTW) report.embedding = addSuperpositionInput(file, g, ed, added);
  // b. logits_to_keep
  if (!g.input.some((i) => i.name === LOGITS_TO_KEEP)) report.lmHead = addLogitsToKeep(file, g, ed, added);
  // c. present_delta.* (after the fused cache split, which is what names present.{i}.key / .value)
  const deltas = addPresentDeltas(file, g, ed, added);
  if (deltas > 0) report.deltas = deltas;
  // Topological order: new nodes go just before their first consumer; simplest valid order is to sort once.
  g.node = topoSort([...g.node, ...added], g);
  report.status = 'prepared';
  return { file, model, report, changed: true };
}

/** Writes `data` to a temporary file beside `file` (renamed over it once every file is written). */
function writeTemp(file: string, data: Uint8Array | string): string {
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
    for (const p of plans) if (p.changed) temps.push([writeTemp(p.file, encodeModel(p.model)), p.file]);
    if (cfgChanged) temps.push([writeTemp(cfgFile, JSON.stringify(wantCfg, null, 2) + '\n'), cfgFile]);
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

