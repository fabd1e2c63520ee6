import { describe, expect, it } from 'vitest';
import { fitRequest } from '../../../src/protocol/fitRequest';
import { buildContext, looksBinary, pickSnippets, prefixWindowStart, skipAutomatic, type DocText } from '../../../src/extension/completions/context';
import { validateRequest } from '../../../src/engine/engine';
import { LIMITS, type CompletionRequest } from '../../../src/protocol';

const doc = (s: string): DocText => ({ length: s.length, slice: (a, b) => s.slice(a, b) });

describe('buildContext', () => {
  it('splits at the cursor for small documents', () => {
    const text = 'function add(a, b) {\n  return a + b;\n}\n';
    const off = text.indexOf('return');
    const c = buildContext(doc(text), off, { prefixChars: 1000, suffixChars: 1000 });
    expect(c.prefix).toBe('function add(a, b) {\n  ');
    expect(c.suffix).toBe('return a + b;\n}\n');
    expect(c.prefixStart).toBe(0);
    expect(c.lineSuffix).toBe('return a + b;');
  });

  it('keeps the prefix within budget, starting on a line', () => {
    const lines = Array.from({ length: 400 }, (_, i) => `const v${i} = ${i};`).join('\n');
    const c = buildContext(doc(lines), lines.length, { prefixChars: 500, suffixChars: 100 });
    expect(c.prefix.length).toBeLessThanOrEqual(500);
    expect(c.prefix.length).toBeGreaterThan(300);
    expect(c.prefix.startsWith('const v')).toBe(true);
    expect(lines.endsWith(c.prefix)).toBe(true);
  });

  it('keeps the prefix start stable while typing (KV cache reuse)', () => {
    const base = Array.from({ length: 300 }, (_, i) => `let x${i} = f(${i});`).join('\n') + '\n';
    const budget = 800;
    const starts = new Set<number>();
    let text = base;
    for (const ch of 'const answer = compute(42);') {
      text += ch;
      starts.add(prefixWindowStart(doc(text), text.length, budget));
    }
    // 27 keystrokes cross at most one chunk boundary (chunk = budget / 4 = 200 chars).
    expect(starts.size).toBeLessThanOrEqual(2);
  });

  it('cuts a truncated suffix at a line boundary and ignores CR in lineSuffix', () => {
    const text = 'a = 1\r\nb = 2\r\nc = 3\r\nd = 4\r\n';
    const c = buildContext(doc(text), 0, { prefixChars: 100, suffixChars: 17 });
    expect(c.suffix).toBe('a = 1\r\nb = 2\r\n');
    expect(c.lineSuffix).toBe('a = 1');
  });

  it('builds the prefix as if the selected suggestion were accepted', () => {
    const text = 'console.lo\n';
    const c = buildContext(doc(text), 10, { prefixChars: 100, suffixChars: 100 }, { start: 8, text: 'log' });
    expect(c.prefix).toBe('console.log');
  });

  it('is fast on a 1 MB document', () => {
    const big = 'x = 1\n'.repeat(180_000);
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) buildContext(doc(big), 500_000 + i, { prefixChars: 3000, suffixChars: 800 });
    expect((performance.now() - t0) / 100).toBeLessThan(5);
  });
});

describe('skipAutomatic / snippets / binary', () => {
  it('skips automatic completion mid-line only when code follows', () => {
    expect(skipAutomatic('')).toBe(false);
    expect(skipAutomatic(')')).toBe(false);
    expect(skipAutomatic('  ]);')).toBe(false);
    expect(skipAutomatic('foo)')).toBe(true);
  });
  it('picks snippets within the budget, one per path', () => {
    const s = pickSnippets(
      [
        { path: 'a.ts', text: 'line one\n'.repeat(50) },
        { path: 'a.ts', text: 'dup' },
        { path: 'b.ts', text: 'const b = 1;\n'.repeat(10) },
        { path: 'c.ts', text: 'c' },
      ],
      { snippetChars: 300, maxSnippets: 2 },
    );
    expect(s.map((x) => x.path)).toEqual(['a.ts']);
    expect(s[0]!.text.length).toBeLessThanOrEqual(300);
    expect(s[0]!.text.endsWith('\n')).toBe(true);
    const s2 = pickSnippets([{ path: 'a', text: 'x\n'.repeat(40) }, { path: 'b', text: 'y\n'.repeat(40) }], { snippetChars: 1000, maxSnippets: 2 });
    expect(s2.map((x) => x.path)).toEqual(['a', 'b']);
  });
  it('detects binary text', () => {
    expect(looksBinary('hello\u0000world')).toBe(true);
    expect(looksBinary('\u0001\u0002\u0003\u0004abc')).toBe(true);
    expect(looksBinary('const a = "tab\there";\n')).toBe(false);
  });
});

describe('fitRequest', () => {
  const base: CompletionRequest = { prefix: 'const a = ', suffix: ';\n', languageId: 'typescript', path: 'src/a.ts', strategy: 'greedy', k: 1, maxTokens: 8, mode: 'line', speculative: false };
  it('returns a request within the bounds unchanged', () => {
    const r = { ...base, snippets: [{ path: 'b.ts', text: 'export const b = 1;\n' }] };
    expect(fitRequest(r)).toBe(r);
  });
  it('trims every field past its bound so the server accepts it, keeping the text next to the cursor', () => {
    const prefix = 'p'.repeat(LIMITS.maxPrefixChars + 10) + 'CURSOR';
    const suffix = 'AFTER' + 's'.repeat(LIMITS.maxSuffixChars + 10);
    const r: CompletionRequest = {
      ...base,
      prefix,
      suffix,
      path: 'd/'.repeat(LIMITS.maxPathChars) + 'file.ts',
      languageId: 'x'.repeat(LIMITS.maxLanguageIdChars + 1),
      snippets: Array.from({ length: LIMITS.maxSnippets + 3 }, (_, i) => ({ path: `s${i}.ts`, text: 't'.repeat(LIMITS.maxSnippetChars + 1) })),
    };
    expect(() => validateRequest(r)).toThrow(/too large|too many/);
    const f = fitRequest(r);
    expect(() => validateRequest(f)).not.toThrow();
    expect(f.prefix.endsWith('CURSOR')).toBe(true);
    expect(f.suffix.startsWith('AFTER')).toBe(true);
    expect(f.path.endsWith('file.ts')).toBe(true);
    expect(f.path.length).toBeLessThanOrEqual(LIMITS.maxPathChars);
  });
});
