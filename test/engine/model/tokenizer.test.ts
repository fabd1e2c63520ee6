/**
 * The engine's tokenizer wrapper on the shipped tokenizer.json: line-cached encoding equals the library's
 * encoding of the whole text, decoding is exact, special-token text in user code stays text.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultModelDir } from '../../../src/engine/engine';
import { Tokenizer } from '../../../src/engine/model/tokenizer';
import { ROOT } from '../../helpers/paths';

const file = path.join(process.env.SUPERDRAFT_MODEL_DIR || defaultModelDir(), 'tokenizer.json');
const tok = Tokenizer.load(file);
const lib = Tokenizer.load(file) as unknown as { hf: { encode(t: string, o: object): { ids: number[] } } };

const root = ROOT;
const samples: [string, string][] = [
  ['tabs, CRLF, non-ASCII', '\tif (x) {\r\n\t\treturn "héllo wörld — 日本語 🎉";\r\n}\r\n\r\n\r\n  \n'],
  ['blank lines and indentation', 'def f():\n\n    x = 1\n\n\n        \n    return x\n'],
  ['trailing spaces before newline', 'let a = 1;   \n   \n\tb();\n'],
  ...(readdirSync(path.join(root, 'src', 'engine'), { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts'))
    .sort()
    .map((f): [string, string] => [f, readFileSync(path.join(root, 'src', 'engine', f), 'utf8')]),
  ['media/panel.js', readFileSync(path.join(root, 'media', 'panel.js'), 'utf8')],
];

describe('tokenizer', () => {
  it('line-cached encoding equals encoding the whole text with the library', () => {
    // (Texts that spell special tokens are encoded differently on purpose: see the test below.)
    for (const [name, text] of samples.filter(([, t]) => !t.includes('<|'))) {
      const whole = lib.hf.encode(text, { add_special_tokens: false }).ids;
      expect(tok.encode(text), name).toEqual(whole);
      // A second time comes from the cache and must not change.
      expect(tok.encode(text), name).toEqual(whole);
    }
  });

  it('decodes exactly what it encoded, like the library', () => {
    for (const [name, text] of samples) {
      const ids = tok.encode(text);
      expect(tok.decode(ids), name).toBe(text);
      expect(tok.decodeWithLibrary(ids), name).toBe(text);
    }
  });

  it('keeps special-token strings in user text as text', () => {
    const text = 'const marker = "<|endoftext|>"; // <|fim_middle|>\n';
    const ids = tok.encode(text);
    for (const s of ['<|endoftext|>', '<|fim_middle|>']) expect(ids).not.toContain(tok.specialId(s));
    expect(tok.decode(ids)).toBe(text);
  });

  it('replaces lone surrogates instead of failing', () => {
    const ids = tok.encode('a\uD800b');
    expect(tok.decode(ids)).toBe('a\uFFFDb');
  });
});
