/**
 * FIM prompt builder. Budgets are in tokens; the prefix window starts at a line boundary that stays put while
 * the user types (so the prompt KV cache keeps matching), and the last prefix token is "healed": it is removed
 * from the prompt and the generation is constrained to start with its bytes, so a completion that continues a
 * half-typed word is tokenized the way the model saw such words in training.
 */
import type { CompletionRequest } from '../../protocol';
import type { FimFormat, ModelConfig } from '../model/config';
import type { Tokenizer } from '../model/tokenizer';

export interface PromptBudget {
  prefixTokens: number;
  suffixTokens: number;
  snippetTokens: number;
}

export const DEFAULT_BUDGET: PromptBudget = { prefixTokens: 640, suffixTokens: 160, snippetTokens: 192 };

export interface Prompt {
  ids: number[];
  /** Bytes the generation must start with (the healed last token), possibly empty. */
  heal: Uint8Array;
  /** Token ids of the prefix part (for prompt-lookup drafting: the context the completion continues). */
  contextIds: number[];
}

const EXT_BY_LANGUAGE: Record<string, string> = {
  typescript: 'ts', typescriptreact: 'tsx', javascript: 'js', javascriptreact: 'jsx', python: 'py', go: 'go', rust: 'rs',
  java: 'java', c: 'c', cpp: 'cpp', csharp: 'cs', shellscript: 'sh', ruby: 'rb', php: 'php', json: 'json', html: 'html',
  css: 'css', markdown: 'md', yaml: 'yaml', sql: 'sql', lua: 'lua', kotlin: 'kt', swift: 'swift',
};

/**
 * Lines the prefix window start is aligned to at the default budget: it moves only when the cursor passes this many
 * lines. Smaller budgets take smaller steps (lineQuantum): a large model's cold path uses a quarter budget (~480
 * characters, about 16 lines), where 16-line steps left the window a median 51 of its 160 tokens (10 % of positions
 * under 5) over 4,000 characters of this repository's code; 2-line steps keep a median 143 (10 % under 116) and move
 * the window start 23 times instead of 31.
 */
const LINE_QUANTUM = 16;

export function lineQuantum(budgetTokens: number): number {
  let halvings = 0;
  for (let b = budgetTokens * 2; b <= DEFAULT_BUDGET.prefixTokens; b *= 2) halvings++;
  return halvings === 0 ? LINE_QUANTUM : Math.max(1, LINE_QUANTUM >> (halvings + 1));
}

/** Characters per token assumed when choosing the window before tokenizing (code averages ~3.5 with our BPE;
 * assuming fewer means the first window usually fits and no second encode is needed). */
const CHARS_PER_TOKEN = 3;

/** Characters of a path kept for the prompt header (its end): the header only shows the last three segments. */
const MAX_PROMPT_PATH_CHARS = 256;

export function promptPath(req: { path: string; languageId?: string }): string {
  if (req.path) return req.path.slice(-MAX_PROMPT_PATH_CHARS).replace(/\\/g, '/').split('/').slice(-3).join('/');
  return `untitled.${EXT_BY_LANGUAGE[req.languageId ?? ''] ?? 'txt'}`;
}

/**
 * Token ids of the end of `prefix` within `budget` tokens. The window starts at a line whose index is a multiple of
 * lineQuantum (or the cursor's line), so it stays put while the user types and the prompt cache keeps matching:
 * it moves only when the text after its start outgrows the budget, then by whole blocks of lines.
 */
export function prefixWindowIds(tok: Tokenizer, prefix: string, budget: number): number[] {
  if (budget <= 0 || prefix.length === 0) return [];
  const lineStarts: number[] = [0];
  for (let i = prefix.indexOf('\n'); i !== -1 && i < prefix.length - 1; i = prefix.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  const cursorLine = lineStarts.length - 1;
  const maxChars = budget * CHARS_PER_TOKEN;
  // Never tokenize more than this: a window that still holds more (one huge line) keeps its end anyway, and a token
  // covers at least one character, so a bigger slice could only add tokens that are cut off.
  const encodeCap = Math.max(maxChars * 4, budget * 16);
  const quantum = lineQuantum(budget);
  let line = 0;
  while (line < cursorLine && prefix.length - lineStarts[line] > maxChars) line = Math.min(cursorLine, line + quantum);
  for (;;) {
    const ids = tok.encode(prefix.slice(Math.max(lineStarts[line]!, prefix.length - encodeCap)));
    if (ids.length <= budget) return ids;
    // A single line longer than the budget: keep its end.
    if (line >= cursorLine) return ids.slice(ids.length - budget);
    line = Math.min(cursorLine, line + quantum);
  }
}

/** Most prefix tokens healed (a word split into more pieces keeps its first ones in the prompt). */
const MAX_HEAL_TOKENS = 4;
/** The word the cursor is in or just after: identifier characters, with the one space or tab before them. */
const LAST_WORD = /[ \t]?[\p{L}\p{N}_$]+$/u;

/**
 * How many of the prefix's last tokens are healed (removed from the prompt; the drafts must start with their bytes):
 * the tokens of the word the prefix ends in, so that the model spells the whole word its own way (" result", not
 * " res" + "ult" after a prefix cut at " resu"), else the last token; never one that holds a newline or is special.
 * Measured on 800 held-out corpus cases (training/heldout_lines.py) and 500 of this repository's own: healing the
 * last token only, then the last word's: superposed k=3 top-1 exact 21.2 → 24.4 %, any of 3 31.2 → 36.2 % (500
 * cases); greedy 16.3 → 24.7 % (300); the repository's own cases 12.0 → 12.2 %, 16.2 → 17.8 %. Healing two tokens
 * whatever they hold gained less (23.6 %, 34.6 %).
 */
export function healCount(tok: Tokenizer, prefixIds: readonly number[], prefix: string): number {
  const word = LAST_WORD.exec(prefix.slice(-64));
  const wordBytes = word ? Buffer.byteLength(word[0]) : 0;
  let n = 0;
  let bytes = 0;
  while (n < prefixIds.length && n < MAX_HEAL_TOKENS) {
    const id = prefixIds[prefixIds.length - 1 - n]!;
    const b = tok.tokenBytes[id];
    // the last token unless it ends a line (a newline never needs healing); earlier ones only inside the word
    if (b.length === 0 || tok.specialIds.has(id) || (n === 0 ? b[b.length - 1] === 0x0a : b.includes(0x0a))) break;
    n++;
    bytes += b.length;
    if (bytes >= wordBytes) break;
  }
  return n;
}

export function suffixWindowEnd(suffix: string, maxChars: number): number {
  if (suffix.length <= maxChars) return suffix.length;
  const nl = suffix.lastIndexOf('\n', maxChars);
  return nl > 0 ? nl + 1 : maxChars;
}

export function buildPrompt(tok: Tokenizer, cfg: ModelConfig, req: CompletionRequest, budget: PromptBudget = DEFAULT_BUDGET): Prompt {
  const room = Math.max(64, cfg.maxPositions - req.maxTokens - 8);
  const scale = Math.min(1, room / (budget.prefixTokens + budget.suffixTokens + budget.snippetTokens + 16));
  const prefixBudget = Math.floor(budget.prefixTokens * scale);
  const suffixBudget = Math.floor(budget.suffixTokens * scale);
  const snippetBudget = Math.floor(budget.snippetTokens * scale);

  let prefixIds = prefixWindowIds(tok, req.prefix, prefixBudget);
  // Heal the word the prefix ends in (or its last token).
  const healed = healCount(tok, prefixIds, req.prefix);
  const heal: Uint8Array = Buffer.concat(prefixIds.slice(prefixIds.length - healed).map((id) => tok.tokenBytes[id]));
  prefixIds = prefixIds.slice(0, prefixIds.length - healed);

  const fim = cfg.fim;
  const special = (text: string | undefined): number[] => {
    if (!text) return [];
    const id = tok.specialId(text);
    return id === undefined ? [] : [id];
  };
  const fileSep = special(fim?.fileSep);

  const head: number[] = [...special(fim?.bos)];
  if (fileSep.length > 0) {
    let used = 0;
    for (const s of req.snippets ?? []) {
      const left = snippetBudget - used;
      if (left < 16) break;
      let ids = tok.encode(`${promptPath(s)}\n${s.text.slice(0, left * CHARS_PER_TOKEN)}`);
      if (ids.length > left) ids = ids.slice(0, left);
      head.push(...fileSep, ...ids);
      used += ids.length + 1;
    }
    head.push(...fileSep, ...tok.encode(`${promptPath(req)}\n`));
  }

  const suffixText = req.suffix.slice(0, suffixWindowEnd(req.suffix, suffixBudget * CHARS_PER_TOKEN));
  let ids: number[];
  if (fim && suffixText.trim().length > 0) {
    let suffixIds = tok.encode(suffixText);
    if (suffixIds.length > suffixBudget) suffixIds = suffixIds.slice(0, suffixBudget);
    ids = fimLayout(fim, special, head, prefixIds, suffixIds);
  } else {
    ids = [...head, ...prefixIds];
  }
  return { ids, heal, contextIds: prefixIds };
}

function fimLayout(fim: FimFormat, special: (t: string | undefined) => number[], head: number[], prefixIds: number[], suffixIds: number[]): number[] {
  const [pre, suf, mid] = [special(fim.prefix), special(fim.suffix), special(fim.middle)];
  if (fim.format === 'spm') return [...head, ...pre, ...suf, ...suffixIds, ...mid, ...prefixIds];
  return [...head, ...pre, ...prefixIds, ...suf, ...suffixIds, ...mid];
}

/**
 * Token constraint for healing: which tokens may come next, given the bytes the output must still start with.
 * Cached per remaining byte string.
 */
export class HealConstraint {
  private readonly cache = new Map<string, Int32Array>();
  constructor(private readonly tok: Tokenizer) {}

  /** Token ids compatible with `remaining` (bytes(t) starts with it, or is a non-empty prefix of it). */
  allowed(remaining: Uint8Array): Int32Array {
    const key = Buffer.from(remaining).toString('latin1');
    let hit = this.cache.get(key);
    if (hit) return hit;
    const out: number[] = [];
    const tb = this.tok.tokenBytes;
    for (let id = 0; id < tb.length; id++) {
      const b = tb[id];
      if (b.length === 0) continue;
      const n = Math.min(b.length, remaining.length);
      let ok = true;
      for (let i = 0; i < n; i++) {
        if (b[i] !== remaining[i]) {
          ok = false;
          break;
        }
      }
      if (ok) out.push(id);
    }
    hit = Int32Array.from(out);
    if (this.cache.size > 256) this.cache.clear();
    this.cache.set(key, hit);
    return hit;
  }

  /** Remaining heal bytes after emitting `token`. */
  advance(remaining: Uint8Array, token: number): Uint8Array {
    const n = this.tok.tokenBytes[token].length;
    return n >= remaining.length ? EMPTY : remaining.subarray(n);
  }
}

const EMPTY = new Uint8Array(0);
