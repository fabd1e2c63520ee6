/**
 * FIM prompt building on the shipped tokenizer/config: SPM layout, budgets, healing, and a prompt start that stays
 * put while the user types (so the engine's KV prefix cache keeps matching).
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CompletionRequest } from '../../../src/protocol';
import { readModelConfig } from '../../../src/engine/model/config';
import { defaultModelDir } from '../../../src/engine/engine';
import { commonPrefix } from '../../../src/engine/model/promptCache';
import { buildPrompt, healCount, lineQuantum, prefixWindowIds } from '../../../src/engine/prompt/prompt';
import { Tokenizer } from '../../../src/engine/model/tokenizer';
import { CODE_CORPUS } from '../../helpers/paths';

const cfg = readModelConfig(process.env.SUPERDRAFT_MODEL_DIR || defaultModelDir());
const tok = Tokenizer.load(cfg.tokenizerFile);
// Real code to walk a cursor over (a fixed corpus: the figures below do not move with the project's own sources).
const source = readdirSync(CODE_CORPUS)
  .sort()
  .map((f) => readFileSync(path.join(CODE_CORPUS, f), 'utf8'))
  .join('\n');

const req = (prefix: string, suffix: string): CompletionRequest => ({
  prefix, suffix, languageId: 'typescript', path: 'src/engine/all.ts', strategy: 'greedy', k: 1, maxTokens: 48, mode: 'auto', speculative: false,
});

describe('prompt', () => {
  it('lays out SPM: file header, <|fim_prefix|><|fim_suffix|> suffix <|fim_middle|> prefix', () => {
    const p = buildPrompt(tok, cfg, req('const a = 1;\nconst b = a +', ' 2;\n'));
    const text = tok.decode(p.ids);
    const ids = (s: string): number => tok.specialId(s)!;
    expect(p.ids[0]).toBe(ids('<|file_sep|>'));
    const pre = p.ids.indexOf(ids('<|fim_prefix|>'));
    expect(p.ids[pre + 1]).toBe(ids('<|fim_suffix|>'));
    expect(p.ids.indexOf(ids('<|fim_middle|>'))).toBeGreaterThan(pre);
    expect(text).toBe('src/engine/all.ts\n 2;\nconst a = 1;\nconst b = a');
    // The last prefix token (" +") is healed: removed from the prompt, the generation must start with it.
    expect(Buffer.from(p.heal).toString()).toBe(' +');
  });

  it('keeps within the budgets on a huge document', () => {
    const p = buildPrompt(tok, cfg, req(source.repeat(4), source.repeat(4)));
    expect(p.ids.length).toBeLessThanOrEqual(cfg.maxPositions - 48);
    expect(p.contextIds.length).toBeGreaterThan(100);
  });

  it('keeps the prompt start while the user types (the cached prefix stays valid)', () => {
    // Type 300 characters of real code one at a time, deep inside a long file.
    const at = Math.floor(source.length * 0.6);
    let prev: number[] | null = null;
    let breaks = 0;
    for (let n = 0; n < 300; n++) {
      const p = buildPrompt(tok, cfg, req(source.slice(0, at + n), source.slice(at + 300)));
      if (prev) {
        const shared = commonPrefix(prev, p.ids);
        // Typing changes only the last tokens; anything else means the window moved.
        if (shared < prev.length - 8) breaks++;
      }
      prev = p.ids;
    }
    expect(breaks).toBeLessThanOrEqual(2);
  });

  it('at a cold path\'s smaller budgets the window moves by fewer lines, and keeps most of its budget', () => {
    expect([640, 604, 320, 160, 80, 40].map(lineQuantum)).toEqual([16, 16, 4, 2, 1, 1]);
    // A quarter budget (a large model on a slow device): walk the cursor over 2,000 characters of real code.
    const at = Math.floor(source.length * 0.4);
    const budget = 160;
    let moves = 0;
    const sizes: number[] = [];
    let prevFirst = -1;
    for (let n = 0; n < 4000; n += 7) {
      const ids = prefixWindowIds(tok, source.slice(0, at + n), budget);
      expect(ids.length).toBeLessThanOrEqual(budget);
      sizes.push(ids.length);
      const first = ids[0]!;
      if (prevFirst !== -1 && first !== prevFirst) moves++;
      prevFirst = first;
    }
    sizes.sort((a, b) => a - b);
    // 16-line steps left a median of about a third of the budget (a tenth of positions almost nothing).
    expect(sizes[Math.floor(sizes.length * 0.1)]).toBeGreaterThan(budget * 0.6);
    expect(sizes[sizes.length >> 1]).toBeGreaterThan(budget * 0.8);
    // and the start still stays put for a few lines at a time: a move every ~170 characters typed, not every line
    expect(moves).toBeGreaterThan(0);
    expect(moves).toBeLessThan(4000 / 100);
  });

  it('heals the word the prefix ends in, so the model spells it whole; else the last token; never past a newline', () => {
    const healedText = (prefix: string): string => Buffer.from(buildPrompt(tok, cfg, req(prefix, '\n')).heal).toString();
    // A word cut mid-way: every token of it (with its space) goes, whatever pieces the cut left.
    for (const word of [' resultCount', ' addEventListener', ' xs']) {
      for (let cut = 2; cut <= word.length; cut++) {
        const prefix = `function f(xs) {\n  const${word.slice(0, cut)}`;
        const ids = tok.encode(prefix);
        const pieces = healCount(tok, ids, prefix);
        const healed = healedText(prefix);
        if (pieces < 4) expect(healed, prefix).toBe(word.slice(0, cut));
        else expect(word.slice(0, cut).endsWith(healed), prefix).toBe(true);
      }
    }
    // Not in a word: the last token, as before.
    expect(healedText('a.b + c.')).toBe('.');
    expect(healedText('call(a, b')).toBe(' b'); // the word with its space
    expect(healedText('const x = f(')).toBe('(');
    expect(healedText('x = 1;\n')).toBe('');
    // A word right after a line break: the newline token stays in the prompt.
    const p = 'if (x) {\nretu';
    expect(healedText(p)).toBe('retu');
    expect(healCount(tok, tok.encode('\n'), '\n')).toBe(0);
  });
});
