/**
 * Model directory: config.json (Hugging Face fields + an optional `superdraft` block), the ONNX graph and the
 * tokenizer. Everything the engine needs is read from here; nothing is guessed from file names alone.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { printable } from '../../protocol/redact';
import { ModelLoadError, checkContained, containedPath } from './modelPaths';

export { ModelLoadError, ModelPathError, containedPath } from './modelPaths';

export interface FimFormat {
  format: 'spm' | 'psm';
  prefix: string;
  suffix: string;
  middle: string;
  pad?: string;
  fileSep?: string;
  /** Repository-name token of repository-level prompts (Qwen2.5-Coder, StarCoder2). */
  repoName?: string;
  eos: string;
  /** Every token that ends a completion (the family's end-of-text, end-of-turn, file separator). */
  ends?: string[];
  /** Token prepended to every prompt (the tokenizer adds a BOS: CodeLlama, DeepSeek-Coder). */
  bos?: string;
  /** Which public convention this is (qwen, starcoder, deepseek, codellama) or 'config' for a superdraft.fim block. */
  convention?: string;
}

/** model_type values of config.json that the engine knows (decoder families in the Optimum layout). */
export const MODEL_TYPES = ['llama', 'mistral', 'qwen2', 'starcoder2', 'gpt_bigcode'] as const;

/** The family of a config.json model_type, or undefined when it is not one the engine knows. */
export function familyOf(modelType: string | undefined): string | undefined {
  return modelType && (MODEL_TYPES as readonly string[]).includes(modelType) ? modelType : undefined;
}

export interface ModelConfig {
  dir: string;
  name: string;
  modelFile: string;
  tokenizerFile: string;
  ngramFile?: string;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  maxPositions: number;
  eosTokenIds: number[];
  fim?: FimFormat;
  /** Names of the superposition inputs when the graph has them. */
  superposition?: { input: string; weights: string };
  /** config.json model_type (e.g. qwen2, llama, starcoder2). */
  modelType?: string;
}

interface RawConfig {
  _name_or_path?: string;
  model_type?: string;
  hidden_size?: number;
  n_embd?: number;
  num_hidden_layers?: number;
  n_layer?: number;
  num_attention_heads?: number;
  n_head?: number;
  num_key_value_heads?: number;
  multi_query?: boolean;
  head_dim?: number;
  vocab_size?: number;
  max_position_embeddings?: number;
  n_positions?: number;
  eos_token_id?: number | number[];
  superdraft?: {
    name?: string;
    onnx?: { default?: string; variants?: Record<string, string> };
    fim?: { format?: string; prefix?: string; suffix?: string; middle?: string; pad?: string; file_sep?: string; eos?: string };
    superposition?: { input?: string; weights?: string };
    ngrams?: string;
  };
}

/**
 * FIM conventions of public code models, used when config.json has no `superdraft.fim` block; recognised by the
 * tokenizer's added tokens. All were trained with prefix-suffix-middle prompts (PSM; StarCoder and CodeLlama also
 * saw SPM, but their published usage and the Hub's tokenizers default to PSM). In PSM the prompt's prefix part stays
 * a prefix of the next prompt while the user types, so the prompt KV cache keeps matching up to the cursor.
 * `ends`: tokens that stop a draft (only those the tokenizer has are used).
 */
export const KNOWN_FIM: (Omit<FimFormat, 'format'> & { convention: string })[] = [
  {
    convention: 'qwen',
    prefix: '<|fim_prefix|>', suffix: '<|fim_suffix|>', middle: '<|fim_middle|>', pad: '<|fim_pad|>', fileSep: '<|file_sep|>', repoName: '<|repo_name|>',
    eos: '<|endoftext|>', ends: ['<|endoftext|>', '<|im_end|>', '<|file_sep|>', '<|fim_pad|>', '<|repo_name|>'],
  },
  {
    convention: 'starcoder',
    prefix: '<fim_prefix>', suffix: '<fim_suffix>', middle: '<fim_middle>', pad: '<fim_pad>', fileSep: '<file_sep>', repoName: '<repo_name>',
    eos: '<|endoftext|>', ends: ['<|endoftext|>', '<file_sep>', '<fim_pad>', '<repo_name>'],
  },
  {
    convention: 'deepseek',
    prefix: '<｜fim▁begin｜>', suffix: '<｜fim▁hole｜>', middle: '<｜fim▁end｜>',
    eos: '<｜end▁of▁sentence｜>', ends: ['<｜end▁of▁sentence｜>', '<|EOT|>'], bos: '<｜begin▁of▁sentence｜>',
  },
  // CodeLlama's tokenizer spells its FIM tokens with the SentencePiece space mark (▁<PRE>); some conversions without.
  { convention: 'codellama', prefix: '▁<PRE>', suffix: '▁<SUF>', middle: '▁<MID>', eos: '▁<EOT>', ends: ['▁<EOT>', '</s>'], bos: '<s>' },
  { convention: 'codellama', prefix: '<PRE>', suffix: '<SUF>', middle: '<MID>', eos: '<EOT>', ends: ['<EOT>', '</s>'], bos: '<s>' },
];

/** The known FIM convention whose tokens a tokenizer.json has (added tokens), with only the end tokens it has. */
export function detectFim(tokenizerJson: string, addsBos: boolean): FimFormat | undefined {
  const has = (t: string): boolean => tokenizerJson.includes(JSON.stringify(t));
  const known = KNOWN_FIM.find((f) => has(f.prefix) && has(f.middle) && has(f.suffix));
  if (!known) return undefined;
  const ends = (known.ends ?? []).filter(has);
  const opt = (t: string | undefined): string | undefined => (t && has(t) ? t : undefined);
  return {
    format: 'psm',
    ...known,
    pad: opt(known.pad),
    fileSep: opt(known.fileSep),
    repoName: opt(known.repoName),
    bos: addsBos ? opt(known.bos) : undefined,
    ends,
  };
}

function requireFile(file: string, what: string): string {
  if (!existsSync(file)) throw new ModelLoadError(`${what} not found: ${file}`);
  const st = statSync(file);
  if (!st.isFile() || st.size === 0) throw new ModelLoadError(`${what} is empty or not a file: ${file}`);
  return file;
}

/** Whether the tokenizer prepends a BOS token (tokenizer_config.json's add_bos_token, as Llama tokenizers do). */
function addsBos(dir: string, tokenizerFile: string): boolean {
  const f = checkContained(dir, path.join(path.dirname(tokenizerFile), 'tokenizer_config.json'), 'tokenizer_config.json');
  if (!existsSync(f)) return false;
  try {
    const c = JSON.parse(readFileSync(f, 'utf8')) as { add_bos_token?: unknown; bos_token?: unknown };
    return c.add_bos_token === true && c.bos_token !== null && c.bos_token !== undefined;
  } catch {
    return false;
  }
}

/**
 * Reads a model directory. `variant` picks an ONNX file: a key of `superdraft.onnx.variants` or a file name;
 * otherwise the config's default, then `model.onnx`, then `onnx/model.onnx` (Optimum export layout).
 */
export function readModelConfig(dir: string, variant?: string): ModelConfig {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ModelLoadError(`model directory not found: ${dir}`);
  // Every file the folder names goes through the one path policy (modelPaths.ts): inside the folder, symlinks followed.
  const cfgFile = requireFile(containedPath(dir, 'config.json', 'config.json'), 'model config');
  let raw: RawConfig;
  try {
    raw = JSON.parse(readFileSync(cfgFile, 'utf8')) as RawConfig;
  } catch (e) {
    throw new ModelLoadError(`model config is not valid JSON: ${cfgFile}: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    const got = raw === null ? 'null' : Array.isArray(raw) ? 'an array' : `a ${typeof raw}`;
    throw new ModelLoadError(`model config must be a JSON object: ${cfgFile} contains ${got}`);
  }
  const sd = (typeof raw.superdraft === 'object' && raw.superdraft !== null ? raw.superdraft : {}) as NonNullable<RawConfig['superdraft']>;
  const modelFile = chooseModelFile(dir, sd, variant);
  requireFile(modelFile, 'ONNX model');
  const tokenizerFile = requireFile(
    [containedPath(dir, 'tokenizer.json', 'tokenizer.json'), checkContained(dir, path.join(path.dirname(modelFile), 'tokenizer.json'), 'tokenizer.json')].find((f) => existsSync(f)) ??
      path.join(dir, 'tokenizer.json'),
    'tokenizer',
  );

  const num = (v: number | undefined, field: string): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new ModelLoadError(`model config ${cfgFile} lacks a valid "${field}"`);
    return v;
  };
  const hiddenSize = num(raw.hidden_size ?? raw.n_embd, 'hidden_size');
  const numHeads = num(raw.num_attention_heads ?? raw.n_head, 'num_attention_heads');
  const numLayers = num(raw.num_hidden_layers ?? raw.n_layer, 'num_hidden_layers');
  const numKvHeads = raw.num_key_value_heads ?? (raw.multi_query ? 1 : numHeads);
  const headDim = raw.head_dim ?? hiddenSize / numHeads;
  const eos = raw.eos_token_id;
  const eosTokenIds = Array.isArray(eos) ? eos : typeof eos === 'number' ? [eos] : [];

  let fim: FimFormat | undefined;
  if (sd.fim?.prefix && sd.fim.suffix && sd.fim.middle) {
    fim = {
      format: sd.fim.format === 'psm' ? 'psm' : 'spm',
      prefix: sd.fim.prefix,
      suffix: sd.fim.suffix,
      middle: sd.fim.middle,
      pad: sd.fim.pad,
      fileSep: sd.fim.file_sep,
      eos: sd.fim.eos ?? '<|endoftext|>',
      convention: 'config',
    };
  } else {
    // Detected from the tokenizer's added tokens.
    fim = detectFim(readFileSync(tokenizerFile, 'utf8'), addsBos(dir, tokenizerFile));
  }
  const ngram = sd.ngrams !== undefined ? containedPath(dir, sd.ngrams, 'config.json superdraft.ngrams') : containedPath(dir, 'ngrams.bin', 'ngrams.bin');
  const name = [sd.name, raw._name_or_path].find((n): n is string => typeof n === 'string' && n.trim() !== '') ?? path.basename(path.resolve(dir));
  return {
    dir,
    // A model-provided string: printed by info, complete and the status bar, so never with control characters.
    name: printable(name),
    modelFile,
    tokenizerFile,
    ngramFile: existsSync(ngram) ? ngram : undefined,
    hiddenSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    vocabSize: num(raw.vocab_size, 'vocab_size'),
    maxPositions: raw.max_position_embeddings ?? raw.n_positions ?? 2048,
    eosTokenIds,
    fim,
    superposition: sd.superposition?.weights ? { input: sd.superposition.input ?? 'input_ids', weights: sd.superposition.weights } : undefined,
    modelType: raw.model_type,
  };
}

/**
 * The ONNX file of a model folder: `variant` (a key of superdraft.onnx.variants, a Hub variant name, or a file
 * name), else the config's default, else the first of the usual names that exists; always inside the folder.
 */
function chooseModelFile(dir: string, sd: NonNullable<RawConfig['superdraft']>, variant: string | undefined): string {
  const onnx = typeof sd.onnx === 'object' && sd.onnx !== null ? sd.onnx : {};
  const variants = typeof onnx.variants === 'object' && onnx.variants !== null ? onnx.variants : {};
  if (variant) {
    // A key of superdraft.onnx.variants, a Hub variant name (q4 → onnx/model_q4.onnx), or a file name.
    const hub = `onnx/${variant === 'fp32' ? 'model.onnx' : `model_${variant}.onnx`}`;
    if (Object.prototype.hasOwnProperty.call(variants, variant)) {
      return containedPath(dir, variants[variant], `config.json superdraft.onnx.variants.${printable(variant)}`);
    } else if (/^[a-z0-9]+$/.test(variant) && existsSync(containedPath(dir, hub, 'the variant'))) {
      return containedPath(dir, hub, 'the variant');
    } else {
      return containedPath(dir, variant, 'the variant');
    }
  } else {
    // Then the Hub's quantized variants (onnx-community ships some models without an fp32 file). A 4-bit graph's
    // 8-bit-activation companion (`model prepare --int8-activations`, written by `model install` for q4) comes before
    // it: the same weights multiplied as llama.cpp multiplies Q4_0 on the CPU, logits within ~0.05 of the plain
    // graph's, each decoding step ~3× faster on the Qwen2.5-0.5B replica (1 thread: 33 against 110 ms). On a GPU its
    // accuracy level is ignored. `--variant q4` picks the plain graph.
    const named = sd.onnx?.default !== undefined ? containedPath(dir, sd.onnx.default, 'config.json superdraft.onnx.default') : undefined;
    const candidates = ['model.onnx', 'onnx/model.onnx', 'decoder_model_merged.onnx', 'onnx/decoder_model_merged.onnx',
      ...['q4a8', 'q4', 'q4f16', 'fp16', 'quantized', 'int8', 'uint8'].map((v) => `onnx/model_${v}.onnx`)].map((c) => containedPath(dir, c, 'the model file'));
    return [named, ...candidates].find((c) => c !== undefined && existsSync(c)) ?? named ?? containedPath(dir, 'model.onnx', 'the model file');
  }
}
