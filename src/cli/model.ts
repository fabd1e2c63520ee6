/**
 * `superdraft model prepare DIR` and `superdraft model info DIR [--json]`: make a Hugging Face model directory ready
 * for every strategy (graph rewrite, see src/engine/prepare.ts) and describe it.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { familyOf, readModelConfig } from '../engine/model/config';
import { PrepareError, checkExternalData, graphStatus, onnxFiles, prepareModel } from '../prepare/prepare';
import { printable } from '../protocol/redact';
import { decodeModel } from '../engine/model/onnx/proto';
import { PRESETS } from '../install/presets';
import { cmdModelInstall, cmdModelList, cmdModelRemove } from './commands/models';
import { UsageError } from './files';

export const MODEL_HELP = `Usage: superdraft model install PRESET|OWNER/REPO[@REVISION] [--variant q4|q4f16|fp16|int8|fp32] [--name N] [--device D] [--dir D] [--allow-unverified]
       superdraft model list [--json] [--presets] [--dir D]
       superdraft model remove NAME [--dir D]
       superdraft model prepare DIR [--int8-activations] [--json]
       superdraft model info DIR [--json]

install  downloads a model from the Hugging Face Hub: config.json, tokenizer.json, tokenizer_config.json,
         generation_config.json and one ONNX variant with its external data. Every file is checked against the
         size and hash the Hub lists; an interrupted download resumes where it stopped when run again; the model is
         prepared and only then appears in the store. Presets: ${PRESETS.map((p) => p.name).join(', ')}.
         The variant defaults to q4 on CPU, q4f16 or fp16 with a GPU device (--device cuda|dml|coreml|webgpu, or auto
         with an NVIDIA GPU). Progress goes to stderr; the last line on stdout is the installed folder. Ctrl-C
         cancels and leaves nothing half-installed.
         A file the Hub lists without a hash is refused; --allow-unverified installs it anyway, saying so.
         HF_ENDPOINT   Hub or mirror base URL (air-gapped setups); HF_TOKEN   token for gated repositories (sent to
         that origin only). A stalled or too slow server ends the install with an error within 2 minutes; the limits
         are SUPERDRAFT_NET_* variables (see README).
list     installed models: name, variant, size, source repository, folder (--presets: the presets, sizes, memory).
remove   deletes an installed model (or its partial download); refused while an install of it runs.
--dir D  the store folder (default $SUPERDRAFT_MODELS_DIR, else \${XDG_CACHE_HOME:-~/.cache}/superdraft/models).

prepare  rewrites the ONNX graph(s) of a Hugging Face model directory (onnx/*.onnx, *.onnx) in place so that every
         strategy runs on it: a superposition input (input_ids [b,s,k] + token_weights [b,s,k]) and logits only
         where asked (logits_to_keep), and present_delta.* outputs (the KV entries a forward appends: the append-only
         cache). Only the graph is rewritten; external weight files (*.onnx_data) are checked, never read or
         rewritten. Idempotent: a prepared directory is left as it is (one prepared by an older version gets only
         what that version lacked).
         --int8-activations  also writes, next to each 4-bit graph (model_q4.onnx), a companion (model_q4a8.onnx,
         variant q4a8) that multiplies with 8-bit activations, as llama.cpp does for Q4_0: faster on CPUs, logits
         slightly different. It shares the weights file; pick it with --variant q4a8.
info     family, parameters, vocabulary, layers, FIM format and tokens, whether superposed decoding is ready (and
         if not, why and the command that fixes it), the ONNX variants, external data size, the n-gram source.`;

export async function runModelCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h') {
    (sub ? process.stdout : process.stderr).write(MODEL_HELP + '\n');
    return sub ? 0 : 2;
  }
  if ((sub === 'install' || sub === 'list' || sub === 'remove') && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(MODEL_HELP + '\n');
    return 0;
  }
  if (sub === 'install') return cmdModelInstall(rest);
  if (sub === 'list') return cmdModelList(rest);
  if (sub === 'remove') return cmdModelRemove(rest);
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { json: { type: 'boolean' }, 'int8-activations': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (parsed.values.help) {
    process.stdout.write(MODEL_HELP + '\n');
    return 0;
  }
  const [dir, extra] = parsed.positionals;
  if (!dir) throw new UsageError(`model ${sub} needs a model directory`);
  if (extra !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(extra)}`);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`model directory ${dir} does not exist`);
  const json = parsed.values.json === true;
  if (parsed.values['int8-activations'] && sub !== 'prepare') throw new UsageError('--int8-activations belongs to model prepare');
  if (sub === 'prepare') {
    const rss0 = process.memoryUsage().rss;
    const r = prepareModel(dir, { int8Activations: parsed.values['int8-activations'] === true });
    const rssPeak = Math.max(rss0, process.memoryUsage().rss);
    if (json) process.stdout.write(JSON.stringify({ ...r, rss_mb: Math.round(rssPeak / 1048576) }, null, 2) + '\n');
    else {
      if (!r.changed) process.stdout.write(`${dir}: already prepared (nothing changed)\n`);
      else {
        for (const v of r.variants) {
          const done = [
            v.splitCache ? `fused key_value cache split on ${v.splitCache} layers` : '',
            v.embedding ? `superposition input at ${v.embedding}` : '',
            v.lmHead ? `logits_to_keep before ${v.lmHead}` : '',
            v.deltas ? `present_delta.* outputs on ${v.deltas} layers` : '',
            v.noDeltas ? `no present_delta.* (${v.noDeltas})` : '',
            v.int8ActivationsFrom ? `8-bit activations (accuracy_level 4) on the weights of ${path.relative(dir, v.int8ActivationsFrom)}` : '',
          ].filter(Boolean);
          const what = v.status === 'already' ? 'already prepared' : done.join(', ');
          process.stdout.write(`${path.relative(dir, v.file)}: ${what}\n`);
        }
        process.stdout.write(`${dir}: prepared (${r.family}) in ${r.ms} ms; config.json "superdraft" block updated\n`);
      }
    }
    return 0;
  }
  if (sub === 'info') {
    const info = modelInfo(dir);
    if (json) process.stdout.write(JSON.stringify(info, null, 2) + '\n');
    else process.stdout.write(formatInfo(info) + '\n');
    return 0;
  }
  throw new UsageError(`unknown model command ${JSON.stringify(sub)} (expected install, list, remove, prepare or info)`);
}

export interface ModelInfo {
  dir: string;
  name: string;
  family: string | null;
  model_type: string | null;
  parameters: number;
  vocab: number;
  layers: number;
  hidden: number;
  heads: number;
  kv_heads: number;
  fim: { format: string; convention: string; tokens: Record<string, string> } | null;
  end_tokens: string[];
  superposition: boolean;
  superposition_reason?: string;
  fix?: string;
  logits_to_keep: boolean;
  /** The graph has present_delta.* outputs (batch-1 caches are append-only stores). */
  present_delta: boolean;
  /** Why the graph cannot have them (its attention takes the cache length from the mask). */
  present_delta_unsupported?: string;
  variants: { file: string; bytes: number; external_data_bytes: number; prepared: boolean }[];
  external_data_bytes: number;
  ngrams: string;
}

/** Parameters from config.json (decoder with the family's layout; biases and norms included). */
function estimateParameters(raw: Record<string, any>, h: number, L: number, H: number, KV: number, hd: number, V: number): number {
  const inter = raw.intermediate_size ?? raw.n_inner ?? 4 * h;
  const gated = raw.model_type !== 'starcoder2' && raw.model_type !== 'gpt_bigcode';
  const bias = raw.model_type === 'qwen2' ? H * hd + 2 * KV * hd : raw.use_bias || raw.model_type === 'gpt_bigcode' ? H * hd + 2 * KV * hd + h + inter + h : 0;
  const norms = raw.model_type === 'starcoder2' || raw.model_type === 'gpt_bigcode' ? 4 * h : 2 * h;
  const perLayer = h * H * hd + 2 * h * KV * hd + H * hd * h + (gated ? 3 : 2) * h * inter + bias + norms;
  const tied = raw.tie_word_embeddings !== false;
  const pos = raw.model_type === 'gpt_bigcode' ? (raw.n_positions ?? 0) * h : 0;
  return V * h * (tied ? 1 : 2) + pos + L * perLayer + h;
}

export function modelInfo(dir: string): ModelInfo {
  const cfg = readModelConfig(dir);
  const raw = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, any>;
  const variants = onnxFiles(dir).map((f) => {
    let m;
    try {
      m = decodeModel(readFileSync(f));
    } catch (e) {
      throw new PrepareError(`${f}: not a readable ONNX model (${(e as Error).message})`);
    }
    let ext = 0;
    try {
      ext = checkExternalData(f, m).reduce((a, x) => a + x.bytes, 0);
    } catch {
      ext = -1;
    }
    const st = graphStatus(f);
    return { file: path.relative(dir, f).split(path.sep).join('/'), bytes: statSync(f).size, external_data_bytes: ext, prepared: st.superposition && st.logitsToKeep && (st.presentDelta || st.noDeltas !== undefined) };
  });
  const status = graphStatus(cfg.modelFile);
  const family = familyOf(cfg.modelType) ?? null;
  let reason: string | undefined;
  if (!status.superposition) {
    reason = !family
      ? `model_type ${JSON.stringify(cfg.modelType ?? null)} is not a supported family`
      : `${path.relative(dir, cfg.modelFile)} has no superposition input (token_weights)`;
  }
  const fim = cfg.fim
    ? {
        format: cfg.fim.format,
        convention: cfg.fim.convention ?? 'config',
        tokens: Object.fromEntries(
          Object.entries({ prefix: cfg.fim.prefix, suffix: cfg.fim.suffix, middle: cfg.fim.middle, pad: cfg.fim.pad, file_sep: cfg.fim.fileSep, repo_name: cfg.fim.repoName, eos: cfg.fim.eos, bos: cfg.fim.bos }).filter(
            (e): e is [string, string] => typeof e[1] === 'string',
          ),
        ),
      }
    : null;
  return {
    dir,
    name: cfg.name,
    family,
    model_type: cfg.modelType ?? null,
    parameters: estimateParameters(raw, cfg.hiddenSize, cfg.numLayers, cfg.numHeads, cfg.numKvHeads, cfg.headDim, cfg.vocabSize),
    vocab: cfg.vocabSize,
    layers: cfg.numLayers,
    hidden: cfg.hiddenSize,
    heads: cfg.numHeads,
    kv_heads: cfg.numKvHeads,
    fim,
    end_tokens: [...new Set([cfg.fim?.eos, ...(cfg.fim?.ends ?? [])].filter((t): t is string => !!t))],
    superposition: status.superposition,
    ...(reason ? { superposition_reason: reason, fix: family ? `superdraft model prepare ${dir}` : 'none: export a llama, mistral, qwen2 or starcoder2 model' } : {}),
    logits_to_keep: status.logitsToKeep,
    present_delta: status.presentDelta,
    ...(status.noDeltas ? { present_delta_unsupported: status.noDeltas } : {}),
    variants,
    external_data_bytes: variants.reduce((a, v) => a + Math.max(0, v.external_data_bytes), 0),
    ngrams: cfg.ngramFile ? `static table ${path.basename(cfg.ngramFile)} + context, open files and workspace` : 'context, open files and workspace (no static table)',
  };
}

function mb(n: number): string {
  return n < 0 ? 'missing or truncated' : `${(n / 1048576).toFixed(1)} MB`;
}

function formatInfo(i: ModelInfo): string {
  const lines = [
    `${printable(i.name)} (${printable(i.dir)})`,
    `  family          ${i.family ?? `unsupported (model_type ${printable(i.model_type)})`}`,
    `  parameters      ${(i.parameters / 1e6).toFixed(1)} M (from config.json)`,
    `  vocabulary      ${i.vocab}`,
    `  layers          ${i.layers} (hidden ${i.hidden}, ${i.heads} heads, ${i.kv_heads} KV heads)`,
    `  FIM             ${i.fim ? `${i.fim.format.toUpperCase()} (${i.fim.convention}): ${Object.entries(i.fim.tokens).map(([k, v]) => `${k} ${printable(v)}`).join(', ')}` : 'none (prefix-only prompts)'}`,
    `  end tokens      ${i.end_tokens.map((t) => printable(t)).join(' ') || '(eos_token_id only)'}`,
    `  superposed      ${i.superposition ? 'ready' : `not ready: ${i.superposition_reason}; fix: ${i.fix}`}`,
    `  logits_to_keep  ${i.logits_to_keep ? 'yes' : 'no'}`,
    `  append-only KV  ${i.present_delta ? 'yes (present_delta.*)' : i.present_delta_unsupported ? `no (${i.present_delta_unsupported})` : `no${i.family ? `: superdraft model prepare ${i.dir}` : ''}`}`,
    `  variants        ${i.variants.map((v) => `${v.file} (${mb(v.bytes)} graph, ${mb(v.external_data_bytes)} external${v.prepared ? ', prepared' : ''})`).join('; ') || 'none'}`,
    `  external data   ${mb(i.external_data_bytes)}`,
    `  n-grams         ${i.ngrams}`,
  ];
  return lines.join('\n');
}
