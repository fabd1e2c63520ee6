/**
 * The model's view of a next-edit site: how much likelier the site's line is with the change than without it, given
 * the lines above it (and the user's edited line, which the model must see to know what changed). All rows go through
 * ONE batched forward from an empty cache (right-padded: a causal model never lets a pad affect earlier positions).
 */
import { logSumExp } from '../decode/math';
import type { ModelRuntime } from '../model/runtime';
import type { Tokenizer } from '../model/tokenizer';

/** A text scored after a context: the sum of its tokens' log-probabilities. */
export interface ScoreItem {
  context: string;
  text: string;
}

/** Sum of log-probabilities of each item's text after its context (the context's last `contextTokens` tokens). */
export async function scoreTexts(runtime: ModelRuntime, tok: Tokenizer, items: readonly ScoreItem[], contextTokens: number): Promise<number[]> {
  if (items.length === 0) return [];
  const rows = items.map((it) => {
    const ctx = tok.encode(it.context).slice(-contextTokens);
    const text = tok.encode(it.text);
    return { ids: [...ctx, ...text], from: ctx.length };
  });
  const seq = Math.max(...rows.map((r) => r.ids.length));
  const ids: number[] = [];
  for (const r of rows) for (let j = 0; j < seq; j++) ids.push(r.ids[Math.min(j, r.ids.length - 1)] ?? 0);
  const out = await runtime.forward({ ids, batch: rows.length, seq, past: runtime.emptyKv(rows.length), wantKv: false });
  const V = out.vocab;
  return rows.map((r, b) => {
    let sum = 0;
    // token j is predicted by position j-1; a text whose first token has no context before it is not scored there
    for (let j = Math.max(1, r.from); j < r.ids.length; j++) {
      const row = b * out.rows + (j - 1);
      sum += out.logits[row * V + r.ids[j]] - logSumExp(out.logits, V, row);
    }
    return sum;
  });
}

/** Context tokens per scored row (a short window keeps the pass within the latency goal). */
export const NEXT_EDIT_CONTEXT_TOKENS = 96;

/** Lines above a site given to the model. */
export const MODEL_CONTEXT_LINES = 12;

/**
 * The two texts scored for a site: its line with the change and without, each after the lines above it; the user's
 * edited line comes first when it is not among them.
 */
export function siteItems(text: string, editLine: number, siteLine: number, siteOffset: number, deleteLen: number, insert: string): [ScoreItem, ScoreItem] {
  const lines = text.split('\n');
  const from = Math.max(0, siteLine - MODEL_CONTEXT_LINES);
  const above = lines.slice(from, siteLine);
  if (editLine < from || editLine >= siteLine) above.unshift(lines[editLine] ?? '');
  const context = above.join('\n') + '\n';
  let lineStart = 0;
  for (let i = 0; i < siteLine; i++) lineStart += lines[i].length + 1;
  const line = lines[siteLine] ?? '';
  const at = siteOffset - lineStart;
  const changed = line.slice(0, at) + insert + line.slice(at + deleteLen);
  return [{ context, text: changed }, { context, text: line }];
}
