/**
 * Prompt anchors (src/engine/anchor.ts) on the shipped tokenizer and prompt builder: typing keeps the prompt and
 * the typed text joins the bytes the generation must start with; anything else that changes the prompt builds it
 * afresh.
 */
import { describe, expect, it } from 'vitest';
import type { CompletionRequest } from '../../../src/protocol';
import { MAX_TYPED_CHARS, PromptAnchors } from '../../../src/engine/prompt/anchor';
import { readModelConfig } from '../../../src/engine/model/config';
import { defaultModelDir } from '../../../src/engine/engine';
import { buildPrompt } from '../../../src/engine/prompt/prompt';
import { Tokenizer } from '../../../src/engine/model/tokenizer';

const cfg = readModelConfig(defaultModelDir());
const tok = Tokenizer.load(cfg.tokenizerFile);

const req = (prefix: string, over: Partial<CompletionRequest> = {}): CompletionRequest => ({
  prefix, suffix: '\n  return total;\n}\n', languageId: 'typescript', path: 'src/sum.ts', strategy: 'superposed', k: 3, maxTokens: 48, mode: 'line', speculative: true, ...over,
});

describe('prompt anchors', () => {
  const start = 'function sum(xs: number[]): number {\n  let total = 0;\n  for (const x of xs) total';

  it('typing keeps the prompt; the healed bytes grow by what was typed', () => {
    const anchors = new PromptAnchors();
    let built = 0;
    const build = (r: CompletionRequest) => () => (built++, buildPrompt(tok, cfg, r));
    const first = anchors.prompt(req(start), 1, build(req(start)));
    expect(first.typedChars).toBe(0);
    expect(built).toBe(1);
    const healed = Buffer.from(first.prompt.heal).toString();
    expect(start.endsWith(healed)).toBe(true);

    const typed = anchors.prompt(req(start + ' +='), 1, build(req(start + ' +=')));
    expect(built).toBe(1);
    expect(typed.typedChars).toBe(3);
    expect(typed.prompt.ids).toEqual(first.prompt.ids);
    expect(typed.prompt.contextIds).toEqual(first.prompt.contextIds);
    expect(Buffer.from(typed.prompt.heal).toString()).toBe(healed + ' +=');
    // The bytes the generation must start with, after the prompt's text, spell the whole prefix's end.
    expect((tok.decode(first.prompt.contextIds) + healed + ' +=').endsWith(start.slice(-40) + ' +=')).toBe(true);

    // Non-ASCII typing: the bytes, not the UTF-16 units.
    const accent = anchors.prompt(req(start + ' // é'), 1, build(req(start + ' // é')));
    expect(Buffer.from(accent.prompt.heal).toString()).toBe(healed + ' // é');
    expect(built).toBe(1);
  });

  it('with the tokenizer, the typed text\'s complete tokens join the prompt and only the word under the cursor stays healed', () => {
    const anchors = new PromptAnchors(tok);
    let built = 0;
    const get = (r: CompletionRequest) => anchors.prompt(r, 1, () => (built++, buildPrompt(tok, cfg, r)));
    const first = get(req(start));
    const healed = Buffer.from(first.prompt.heal).toString();
    const typedText = ' += x; total';
    const typed = get(req(start + typedText));
    expect(built).toBe(1);
    expect(typed.typedChars).toBe(typedText.length);
    // the prompt only grows at its end: the request before's KV cache is reused whole
    expect(typed.prompt.ids.slice(0, first.prompt.ids.length)).toEqual(first.prompt.ids);
    const added = typed.prompt.ids.slice(first.prompt.ids.length);
    expect(added.length).toBeGreaterThan(0);
    expect(typed.prompt.contextIds).toEqual([...first.prompt.contextIds, ...added]);
    // the added tokens and the healed bytes spell the healed word and the typed text, and the word typed last is
    // healed as a fresh prompt heals it
    const heal = Buffer.from(typed.prompt.heal).toString();
    expect(tok.decode(added) + heal).toBe(healed + typedText);
    expect(heal).toBe(Buffer.from(buildPrompt(tok, cfg, req(start + typedText)).heal).toString());
    // typing on from there: the prompt grows again by what was completed
    const more = get(req(start + typedText + ' += 1;'));
    expect(more.prompt.ids.slice(0, typed.prompt.ids.length)).toEqual(typed.prompt.ids);
    expect(tok.decode(more.prompt.ids.slice(first.prompt.ids.length)) + Buffer.from(more.prompt.heal).toString()).toBe(healed + typedText + ' += 1;');
    expect(built).toBe(1);
  });

  it('a changed suffix, file, snippet, budget or output length, or more than MAX_TYPED_CHARS typed, builds afresh', () => {
    const anchors = new PromptAnchors();
    let built = 0;
    const get = (r: CompletionRequest, scale = 1) => anchors.prompt(r, scale, () => (built++, buildPrompt(tok, cfg, r)));
    get(req(start));
    const variants: [string, CompletionRequest, number][] = [
      ['suffix', req(start + ' ', { suffix: '\n}\n' }), 1],
      ['path', req(start + ' ', { path: 'src/other.ts' }), 1],
      ['language', req(start + ' ', { languageId: 'javascript' }), 1],
      ['snippets', req(start + ' ', { snippets: [{ path: 'a.ts', text: 'export const a = 1;' }] }), 1],
      ['scale', req(start + ' '), 0.5],
      ['maxTokens', req(start + ' ', { maxTokens: 16 }), 1],
      ['typed too much', req(start + ' '.repeat(MAX_TYPED_CHARS + 1)), 1],
      ['edited before the cursor', req(start.replace('total = 0', 'total = 1') + ' '), 1],
    ];
    for (const [what, r, scale] of variants) {
      const before = built;
      expect(get(r, scale).typedChars, what).toBe(0);
      expect(built, what).toBe(before + 1);
    }
  });

  it('backspacing returns to an older anchor while its text is still a prefix; a surrogate pair is never split', () => {
    const anchors = new PromptAnchors();
    let built = 0;
    const get = (r: CompletionRequest) => anchors.prompt(r, 1, () => (built++, buildPrompt(tok, cfg, r)));
    const a = get(req(start));
    // Far enough ahead for a new anchor, then back to within reach of the first.
    get(req(start + ' += x; // a longer comment typed'));
    expect(built).toBe(2);
    const back = get(req(start + ' +'));
    expect(built).toBe(2);
    expect(back.prompt.ids).toEqual(a.prompt.ids);
    expect(back.typedChars).toBe(2);

    // Typed text ending inside a surrogate pair is not taken (the half cannot be encoded); the whole pair is, from
    // the anchor before it, not from the half's.
    const emoji = '😀';
    const half = start + ' // ' + emoji[0];
    get(req(half));
    expect(built).toBe(3);
    const whole = get(req(start + ' // ' + emoji));
    expect(built).toBe(3);
    expect(whole.typedChars).toBe(' // '.length + 2);
    expect(Buffer.from(whole.prompt.heal).toString()).toBe(Buffer.from(a.prompt.heal).toString() + ' // ' + emoji);
  });
});
