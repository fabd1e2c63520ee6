/**
 * Model directory: config.json (Hugging Face fields + an optional `superdraft` block), the ONNX graph and the
 * tokenizer. Everything the engine needs is read from here; nothing is guessed from file names alone.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

export class ModelLoadError extends Error {}

export interface FimFormat {
  format: 'spm' | 'psm';
  prefix: string;
  suffix: string;
  middle: string;
  pad?: string;
  fileSep?: string;
  eos: string;
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

/** Known FIM token spellings of popular code models, used when config.json has no `superdraft.fim` block. */
const KNOWN_FIM: { prefix: string; suffix: string; middle: string; fileSep?: string; eos: string }[] = [
  { prefix: '<|fim_prefix|>', suffix: '<|fim_suffix|>', middle: '<|fim_middle|>', fileSep: '<|file_sep|>', eos: '<|endoftext|>' },
  { prefix: '<fim_prefix>', suffix: '<fim_suffix>', middle: '<fim_middle>', fileSep: '<file_sep>', eos: '<|endoftext|>' },
];

function requireFile(file: string, what: string): string {
  if (!existsSync(file)) throw new ModelLoadError(`${what} not found: ${file}`);
  const st = statSync(file);
  if (!st.isFile() || st.size === 0) throw new ModelLoadError(`${what} is empty or not a file: ${file}`);
  return file;
}

/**
 * Reads a model directory. `variant` picks an ONNX file: a key of `superdraft.onnx.variants` or a file name;
 * otherwise the config's default, then `model.onnx`, then `onnx/model.onnx` (Optimum export layout).
 */
export function readModelConfig(dir: string, variant?: string): ModelConfig {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ModelLoadError(`model directory not found: ${dir}`);
  const cfgFile = requireFile(path.join(dir, 'config.json'), 'model config');
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
  const sd = raw.superdraft ?? {};
  let modelFile: string | undefined;
  if (variant) {
    const named = sd.onnx?.variants?.[variant] ?? variant;
    modelFile = path.join(dir, named);
  } else {
    const candidates = [sd.onnx?.default, 'model.onnx', 'onnx/model.onnx', 'decoder_model_merged.onnx', 'onnx/decoder_model_merged.onnx'];
    for (const c of candidates) {
      if (c && existsSync(path.join(dir, c))) {
        modelFile = path.join(dir, c);
        break;
      }
    }
    modelFile ??= path.join(dir, sd.onnx?.default ?? 'model.onnx');
  }
  requireFile(modelFile, 'ONNX model');
  const tokenizerFile = requireFile(
    [path.join(dir, 'tokenizer.json'), path.join(path.dirname(modelFile), 'tokenizer.json')].find((f) => existsSync(f)) ??
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
  const numKvHeads = raw.num_key_value_heads ?? numHeads;
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
    };
  } else {
    // Detected from the tokenizer's added tokens below; PSM is the common default of public code models.
    const tok = readFileSync(tokenizerFile, 'utf8');
    const known = KNOWN_FIM.find((f) => tok.includes(JSON.stringify(f.prefix)) && tok.includes(JSON.stringify(f.middle)));
    if (known) fim = { format: 'psm', ...known };
  }
  const ngram = sd.ngrams ? path.join(dir, sd.ngrams) : path.join(dir, 'ngrams.bin');
  return {
    dir,
    name: sd.name ?? raw._name_or_path ?? path.basename(path.resolve(dir)),
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
  };
}
