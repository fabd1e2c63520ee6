/**
 * Model presets: Hub repositories in the onnx-community layout (config.json, tokenizer.json, onnx/model_<variant>.onnx
 * with optional .onnx_data) whose family Superdraft runs. Sizes are the bytes of the variant's ONNX files as the Hub's
 * file listing showed them (rounded by the Hub's page to 3 digits); `approximate` marks a size that could not be
 * checked. The install always uses the sizes the Hub lists at install time; these are for choosing.
 */
export const VARIANTS = ['q4', 'q4f16', 'fp16', 'int8', 'fp32'] as const;
export type Variant = (typeof VARIANTS)[number];

export interface PresetVariant {
  /** Bytes of the ONNX graph plus its external data. */
  bytes: number;
  approximate?: boolean;
}

export interface Preset {
  name: string;
  repo: string;
  /** Git revision the sizes were read at ('main' unless pinned). */
  revision: string;
  title: string;
  /** What the model is good for, one line. */
  goodFor: string;
  family: 'qwen2' | 'llama' | 'starcoder2' | 'gpt_bigcode';
  parameters: number;
  /** Bytes of config, tokenizer and generation config (approximate, a few MB). */
  extraBytes: number;
  variants: Partial<Record<Variant, PresetVariant>>;
}

const MB = 1e6;
const GB = 1e9;

export const PRESETS: readonly Preset[] = [
  {
    name: 'qwen2.5-coder-0.5b',
    repo: 'onnx-community/Qwen2.5-Coder-0.5B-Instruct',
    revision: 'main',
    title: 'Qwen2.5-Coder 0.5B',
    goodFor: 'fast completions on any machine; 92 languages, fill-in-the-middle',
    family: 'qwen2',
    parameters: 494e6,
    extraBytes: 7.1 * MB,
    variants: { q4: { bytes: 862 * MB }, q4f16: { bytes: 555 * MB }, fp16: { bytes: 1.26 * GB }, int8: { bytes: 639 * MB }, fp32: { bytes: 567 * MB + 1.96 * GB } },
  },
  {
    name: 'qwen2.5-coder-1.5b',
    repo: 'onnx-community/Qwen2.5-Coder-1.5B',
    revision: 'main',
    title: 'Qwen2.5-Coder 1.5B (base)',
    goodFor: 'better multi-line completions; a base model trained for fill-in-the-middle; needs a recent CPU or a GPU',
    family: 'qwen2',
    parameters: 1.54e9,
    extraBytes: 7.1 * MB,
    variants: { q4: { bytes: 1.79 * GB }, q4f16: { bytes: 1.22 * GB }, fp16: { bytes: 1.1 * MB + 3.1 * GB }, int8: { bytes: 1.58 * GB }, fp32: { bytes: 1.06 * MB + 6.21 * GB } },
  },
  {
    name: 'deepseek-coder-1.3b',
    repo: 'onnx-community/deepseek-coder-1.3b-instruct-ONNX',
    revision: 'main',
    title: 'DeepSeek-Coder 1.3B (instruct)',
    goodFor: 'code in 80+ languages with a 16K context; fill-in-the-middle',
    family: 'llama',
    parameters: 1.35e9,
    extraBytes: 2.3 * MB,
    variants: { q4: { bytes: 1.07 * GB }, q4f16: { bytes: 853 * MB }, fp16: { bytes: 515e3 + 2.69 * GB }, int8: { bytes: 1.35 * GB }, fp32: { bytes: 503e3 + 5.39 * GB } },
  },
  {
    name: 'tiny-starcoder',
    repo: 'Xenova/tiny_starcoder_py',
    revision: 'main',
    title: 'TinyStarCoder-Py 164M (StarCoder family)',
    goodFor: 'Python only; the smallest download, for slow machines',
    family: 'gpt_bigcode',
    parameters: 164e6,
    extraBytes: 2.1 * MB,
    variants: { q4: { bytes: 319 * MB }, q4f16: { bytes: 250 * MB, approximate: true }, fp16: { bytes: 396 * MB }, int8: { bytes: 232 * MB, approximate: true }, fp32: { bytes: 724 * MB } },
  },
];

export function findPreset(name: string): Preset | undefined {
  const n = name.toLowerCase();
  return PRESETS.find((p) => p.name === n || p.repo.toLowerCase() === n);
}

/**
 * Memory a model needs to run: its weights as loaded plus ONNX Runtime's working memory and the KV cache of a few
 * drafts at a few thousand tokens of context (rough: 1.2 x the weights + 300 MB).
 */
export function memoryNeeded(weightBytes: number): number {
  return Math.round(weightBytes * 1.2 + 300 * MB);
}

/** The variant to use where none is asked for: q4 on CPU (int8 then fp32 where there is none), q4f16 or fp16 on a GPU. */
export function variantOrder(gpu: boolean): Variant[] {
  return gpu ? ['q4f16', 'fp16', 'q4', 'int8', 'fp32'] : ['q4', 'int8', 'fp32', 'q4f16', 'fp16'];
}
