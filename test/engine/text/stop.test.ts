import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { postProcess } from '../../../src/engine/text/postprocess';
import { createStopRule, resolveMode } from '../../../src/engine/text/stop';
import type { CompletionMode } from '../../../src/protocol';

/** A case: `code` holds the file with the cursor marked by █; `raw` is what the model generated. */
interface StopCase {
  name: string;
  language: string;
  mode: CompletionMode;
  resolved?: 'line' | 'block';
  code: string;
  raw: string;
  expected: string | null;
}

const CURSOR = '█';
const dir = join(__dirname, 'stop-cases');
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

describe('stop rules and post-processing (case files)', () => {
  it('has case files', () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
  });
  for (const file of files) {
    const cases = JSON.parse(readFileSync(join(dir, file), 'utf8')) as StopCase[];
    describe(file, () => {
      for (const c of cases) {
        it(c.name, () => {
          const at = c.code.indexOf(CURSOR);
          expect(at, 'case has a cursor marker').toBeGreaterThanOrEqual(0);
          const prefix = c.code.slice(0, at);
          const suffix = c.code.slice(at + CURSOR.length);
          const ctx = { mode: c.mode, prefix, suffix, languageId: c.language };
          if (c.resolved) expect(resolveMode(c.mode, prefix, suffix, c.language)).toBe(c.resolved);
          const rule = createStopRule(ctx);
          // Streaming (one character per step, as tokens arrive) stops at the same place as judging the whole text.
          let streamed = c.raw;
          for (let n = 1; n <= c.raw.length; n++) {
            const cut = rule.check(c.raw.slice(0, n));
            if (cut >= 0) {
              streamed = c.raw.slice(0, cut);
              break;
            }
          }
          const whole = rule.check(c.raw);
          expect(streamed).toBe(whole >= 0 ? c.raw.slice(0, whole) : c.raw);
          expect(postProcess(streamed, ctx)).toBe(c.expected);
          expect(postProcess(c.raw, ctx)).toBe(c.expected);
        });
      }
    });
  }
});

describe('stop rule edge cases', () => {
  it('ignoreStop keeps the full text but still trims overlap with the suffix', () => {
    const ctx = { mode: 'line' as const, prefix: 'f(', suffix: ')\n', languageId: 'typescript', ignoreStop: true };
    expect(postProcess('a)\nb = 1\nc = 2', ctx)).toBe('a)\nb = 1\nc = 2');
    expect(postProcess('a)', ctx)).toBe('a');
  });
  it('handles CRLF documents', () => {
    const prefix = 'function f() {\r\n  const a = 1;\r\n  ';
    const suffix = '\r\n}\r\n';
    const ctx = { mode: 'auto' as const, prefix, suffix, languageId: 'typescript' };
    expect(postProcess('return a;\n}\n', ctx)).toBe('return a;');
    expect(postProcess('x\r', { ...ctx, mode: 'line' as const })).toBe('x');
  });
  it('empty prefix and suffix', () => {
    const ctx = { mode: 'auto' as const, prefix: '', suffix: '', languageId: 'python' };
    expect(resolveMode('auto', '', '', 'python')).toBe('block');
    expect(postProcess('import os\nimport sys\n\nx = 1', ctx)).toBe('import os\nimport sys');
    expect(postProcess('', ctx)).toBeNull();
  });
  it('unknown languages use C-like comments and brackets', () => {
    const ctx = { mode: 'block' as const, prefix: 'fn main() {', suffix: '\n}', languageId: 'weird' };
    expect(postProcess('\n    let x = vec![1];\n}\n', ctx)).toBe('\n    let x = vec![1];');
  });
  it('a long completion is judged in linear passes (no pathological slowdown)', () => {
    const rule = createStopRule({ mode: 'block', prefix: 'function f() {', suffix: '\n}', languageId: 'typescript' });
    const text = '\n' + '  x += 1; // {\n'.repeat(3000);
    expect(rule.check(text)).toBe(-1);
    expect(rule.check(text + '}\n')).toBe(text.length + 1);
  });
  it('judging interleaved growing drafts with one rule equals judging each text afresh', () => {
    let seed = 5;
    const rnd = () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed / 4294967296;
    };
    const pieces = ['\n', '  ', '    ', 'x', ' = ', 'foo(', ')', '{', '}', '[', ']', ';', '"a{"', "'", '// c {', '/* } */', '\\', 'return ', ':', '\n\n', 'end', '#'];
    const contexts = [
      { mode: 'block' as const, prefix: 'function f() {', suffix: '\n}', languageId: 'typescript' },
      { mode: 'block' as const, prefix: 'def f(x):\n    ', suffix: '\n', languageId: 'python' },
      { mode: 'block' as const, prefix: 'const a = 1;\n', suffix: '', languageId: 'javascript' },
      { mode: 'line' as const, prefix: '  x = ', suffix: ')\n', languageId: 'typescript' },
    ];
    for (const ctx of contexts) {
      const shared = createStopRule(ctx);
      const drafts = ['', '', '', ''];
      for (let step = 0; step < 400; step++) {
        const d = Math.floor(rnd() * drafts.length);
        if (rnd() < 0.05) drafts[d] = drafts[(d + 1) % drafts.length]; // drafts that share a prefix
        drafts[d] += pieces[Math.floor(rnd() * pieces.length)];
        const got = shared.check(drafts[d]);
        const want = createStopRule(ctx).check(drafts[d]);
        expect(got, JSON.stringify(drafts[d])).toBe(want);
        if (got >= 0) drafts[d] = '';
      }
    }
  });
});
