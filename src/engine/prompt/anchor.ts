/**
 * Prompt anchors: typing keeps the prompt. A request whose text before the cursor is an earlier request's plus what
 * the user typed since (same text after the cursor, file, snippets and budget) reuses that request's prompt as it is,
 * and the typed text joins the healed bytes the generation must start with: in fill-in-the-middle terms the typed
 * characters become the first characters of the middle rather than the last of the prefix. The model is asked the
 * same question (what goes between this prefix and this suffix, given that it starts with these characters), and the
 * prompt only grows at its end, so its KV cache is reused whole.
 *
 * Built afresh, a prefix-suffix-middle prompt changes before the suffix, so the suffix and everything after it are
 * computed again on every keystroke: on the Qwen2.5-0.5B replica (q4, a quarter budget, 1 thread) 43–46 tokens, about
 * 320 ms, while the rest of a typed request (16 tokens recycled from the previous draft) took 2 forwards; and a typed
 * character that pushed the prefix window past its budget moved the window and recomputed the whole prompt.
 *
 * Only for PSM prompts: an SPM or plain prompt ends with the prefix, so typing appends to it and the KV cache is reused
 * up to the change anyway, while each typed token generated under the healing constraint costs a decoding step (on
 * the embedded model, SPM, 120 held-out cases: 17.5 → 19.2 ms for one typed character, 20.5 → 28.2 ms for eight, with
 * the same drafts found to within two cases).
 *
 * The typed text's complete tokens join the prompt's end (after the middle token: the middle's first tokens, spelled
 * the way a fresh prompt would spell the prefix's end, `healCount`), and only the word the cursor is in stays healed.
 * So the prompt grows by a token or two per keystroke, prefilled in one forward with the KV cache of the request
 * before reused whole, instead of every typed token costing each request a decoding step under the healing
 * constraint: on the Qwen2.5-0.5B replica (q4, 2 threads) 8 typed characters were 3–5 forced steps a request.
 *
 * The typed text is limited (MAX_TYPED_CHARS): after a while the prompt's window no longer ends where the cursor is.
 * Backspacing falls back to an older anchor while its prefix is still a prefix of the text.
 */
import type { CompletionRequest, ContextSnippet } from '../../protocol';
import type { Tokenizer } from '../model/tokenizer';
import { healCount, type Prompt } from './prompt';

/** Characters typed since the anchor beyond which a prompt is built afresh (and becomes the next anchor). */
export const MAX_TYPED_CHARS = 24;
/** Anchors kept, most recent first. */
const MAX_ANCHORS = 4;

interface Anchor {
  prefix: string;
  suffix: string;
  path: string;
  languageId: string;
  maxTokens: number;
  snippets?: ContextSnippet[];
  /** The prompt budget's scale the prompt was built at (coldPath.ts). */
  scale: number;
  prompt: Prompt;
}

function sameSnippets(a: ContextSnippet[] | undefined, b: ContextSnippet[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  if (x === y) return true;
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i]!.path !== y[i]!.path || x[i]!.text !== y[i]!.text) return false;
  return true;
}

export class PromptAnchors {
  private anchors: Anchor[] = [];

  /** `tok`: the typed text's complete tokens join the prompt (without it they are all healed, decoded one by one). */
  constructor(private readonly tok?: Tokenizer) {}

  /**
   * The prompt for `req`: an anchor's, with the typed text added to its healed bytes, or `build()`'s (which becomes
   * the newest anchor). `typedChars` says how much was typed since the anchor (0: built afresh or identical).
   */
  prompt(req: CompletionRequest, scale: number, build: () => Prompt): { prompt: Prompt; typedChars: number } {
    for (let i = 0; i < this.anchors.length; i++) {
      const a = this.anchors[i]!;
      const typed = req.prefix.length - a.prefix.length;
      if (typed < 0 || typed > MAX_TYPED_CHARS) continue;
      if (a.scale !== scale || a.maxTokens !== req.maxTokens || a.path !== req.path || a.languageId !== req.languageId) continue;
      if (a.suffix !== req.suffix || !req.prefix.startsWith(a.prefix) || !sameSnippets(a.snippets, req.snippets)) continue;
      // A surrogate pair cut by either end of the typed text cannot be encoded in halves.
      const typedText = req.prefix.slice(a.prefix.length);
      if (typed > 0 && (/[\uD800-\uDBFF]$/.test(a.prefix) || /[\uD800-\uDBFF]$/.test(typedText))) continue;
      if (i > 0) this.anchors.unshift(...this.anchors.splice(i, 1));
      if (typed === 0) return { prompt: a.prompt, typedChars: 0 };
      return { prompt: this.extend(a.prompt, typedText), typedChars: typed };
    }
    const prompt = build();
    this.anchors.unshift({
      prefix: req.prefix,
      suffix: req.suffix,
      path: req.path,
      languageId: req.languageId,
      maxTokens: req.maxTokens,
      ...(req.snippets ? { snippets: req.snippets } : {}),
      scale,
      prompt,
    });
    if (this.anchors.length > MAX_ANCHORS) this.anchors.length = MAX_ANCHORS;
    return { prompt, typedChars: 0 };
  }

  /** The anchor's prompt continued by `typed`: its complete tokens appended, the word under the cursor healed. */
  private extend(p: Prompt, typed: string): Prompt {
    const heal = Buffer.concat([p.heal, Buffer.from(typed, 'utf8')]);
    if (!this.tok) return { ...p, heal };
    // The healed bytes are whole tokens of the prefix's end: text that starts where a token of the prefix started.
    const text = heal.toString('utf8');
    const ids = this.tok.encode(text);
    const keep = ids.length - healCount(this.tok, ids, text);
    if (keep <= 0) return { ...p, heal };
    const kept = ids.slice(0, keep);
    const rest = Buffer.concat(ids.slice(keep).map((id) => this.tok!.tokenBytes[id]));
    return { ids: [...p.ids, ...kept], heal: rest, contextIds: [...p.contextIds, ...kept] };
  }
}
