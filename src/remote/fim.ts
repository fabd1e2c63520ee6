/**
 * Fill-in-the-middle prompts built in the client, for servers that take a raw prompt (vLLM rejects `suffix`; an
 * Ollama model whose template has no suffix branch). The tokens are the table the engine and `superdraft model info`
 * use (src/engine/model/config.ts: KNOWN_FIM), so a remote model and a local one of the same family see one format.
 * The server's tokenizer turns the special-token text into the special tokens (vLLM, llama.cpp and Ollama parse
 * special tokens in prompt text); its BOS is its own to add.
 */
import { KNOWN_FIM, type FimFormat } from '../engine/model/config';
import type { RemoteFim } from '../protocol/remote';

export type FimFamily = Exclude<RemoteFim, 'auto'>;
type Known = (typeof KNOWN_FIM)[number];

/**
 * The family of a server's model name (Hugging Face repository, Ollama tag, GGUF file name), or undefined:
 * Qwen2.5-Coder, StarCoder/StarCoder2, DeepSeek-Coder (V1 and V2 share the tokens), CodeLlama.
 */
export function familyOfModelName(name: string): FimFamily | undefined {
  const n = name.toLowerCase();
  if (/qwen[\w.-]*coder/.test(n)) return 'qwen';
  if (/starcoder|star-coder|santacoder/.test(n)) return 'starcoder';
  if (/deepseek[\w.-]*coder/.test(n)) return 'deepseek';
  if (/code[-_ ]?llama/.test(n)) return 'codellama';
  return undefined;
}

/** The family to use: a `remoteFim` setting other than auto wins, else the model name's. */
export function resolveFamily(setting: RemoteFim, model: string): FimFamily | undefined {
  return setting !== 'auto' ? setting : familyOfModelName(model);
}

/** The family's row of KNOWN_FIM (CodeLlama: the spelling without the SentencePiece mark, as text prompts write it). */
export function fimTokens(family: FimFamily): Known {
  const rows = KNOWN_FIM.filter((f) => f.convention === family);
  const row = family === 'codellama' ? rows.find((f) => f.prefix === '<PRE>') : rows[0];
  if (!row) throw new Error(`no FIM tokens for ${family}`);
  return row;
}

/** Strings that end a draft: the family's end and separator tokens as text. */
export function fimStops(family: FimFamily): string[] {
  const f: Omit<FimFormat, 'format'> = fimTokens(family);
  return [...new Set([f.eos, ...(f.ends ?? []), ...(f.fileSep ? [f.fileSep] : [])])];
}

export interface FimInput {
  prefix: string;
  suffix: string;
  /** The document's path as shown to the model (repository-level prompts). */
  path: string;
  snippets?: readonly { path: string; text: string }[];
}

/**
 * The PSM prompt of `family`. Families with a file separator (Qwen2.5-Coder, StarCoder2) get the other files as
 * repository-level context before the document (`<file_sep>path\ntext`), as the local engine's prompt does;
 * DeepSeek-Coder and CodeLlama have no such token and get the document alone. CodeLlama's published format puts a
 * space after <PRE> and before <SUF> and <MID> (its tokenizer reads them as ▁<PRE>, ▁<SUF>, ▁<MID>).
 */
export function buildFimPrompt(family: FimFamily, input: FimInput): string {
  const t = fimTokens(family);
  if (family === 'codellama') return `${t.prefix} ${input.prefix} ${t.suffix}${input.suffix} ${t.middle}`;
  let head = '';
  if (t.fileSep) {
    for (const s of input.snippets ?? []) head += `${t.fileSep}${s.path}\n${s.text}\n`;
    if (head) head += `${t.fileSep}${input.path}\n`;
  }
  return `${head}${t.prefix}${input.prefix}${t.suffix}${input.suffix}${t.middle}`;
}
