import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { countToken } from '../../../src/engine/nextEdit/gate';
import { applyEdit, candidateSites, gatedSites, naiveNextEdits, proposeNextEdits, sameResult, siteKey, type UserEdit } from '../../../src/engine/nextEdit/nextEdit';
import { tokenChange } from '../../../src/engine/nextEdit/tokens';
import { DEFAULTS } from '../../../src/protocol/defaults';

/**
 * A case: `code` is the file with the user's edit written as ⟦old⟶new⟧ (the file after the edit has `new` there).
 * `top`: the first draft; `top_any`: the first draft is one of these (1-based line, the text it replaces, its insert); `count`: how many drafts at least;
 * `none`: no draft at all; `never`: no draft's site lies inside one of these words. `top_after`: the first draft's line
 * once it is applied (trimmed); `includes` / `excludes`: lines (trimmed) that some draft / no draft gives once applied.
 */
interface NextEditCase {
  name: string;
  language: string;
  code: string;
  top?: { line: number; old: string; insert: string };
  /** The first draft is one of these (when several sites are equally right). */
  top_any?: { line: number; old: string; insert: string }[];
  count?: number;
  none?: boolean;
  never?: string[];
  top_after?: string;
  includes?: string[];
  excludes?: string[];
  /** The threshold drafts are cut at (default: the shipped one); 0 tests the ranking alone. */
  threshold?: number;
}

function parse(code: string): { text: string; edit: UserEdit } {
  const m = /⟦([^⟶]*)⟶([^⟧]*)⟧/.exec(code);
  if (!m) throw new Error('case has no ⟦old⟶new⟧ edit');
  const text = code.slice(0, m.index) + m[2] + code.slice(m.index + m[0].length);
  return { text, edit: { offset: m.index, delete: m[2].length, insert: m[2], old: m[1] } };
}

const dir = join(__dirname, 'cases');
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

describe('next-edit drafts (case files)', () => {
  it('has positive and negative case files', () => {
    expect(files).toEqual(expect.arrayContaining(['negative.json', 'rename.json']));
  });
  for (const file of files) {
    const cases = JSON.parse(readFileSync(join(dir, file), 'utf8')) as NextEditCase[];
    describe(file, () => {
      for (const c of cases) {
        it(c.name, () => {
          const { text, edit } = parse(c.code);
          const threshold = c.threshold ?? DEFAULTS.nextEditThreshold;
          const drafts = proposeNextEdits({ text, edit, languageId: c.language, k: 3, threshold });
          if (c.none) expect(drafts).toEqual([]);
          if (c.top) {
            expect(drafts.length).toBeGreaterThan(0);
            const d = drafts[0];
            expect({ line: d.line + 1, old: text.slice(d.offset, d.offset + d.delete), insert: d.insert }).toEqual(c.top);
            expect(d.old).toBe(c.top.old);
          }
          if (c.top_any) {
            expect(drafts.length).toBeGreaterThan(0);
            const d = drafts[0];
            expect(c.top_any).toContainEqual({ line: d.line + 1, old: text.slice(d.offset, d.offset + d.delete), insert: d.insert });
          }
          if (c.count) expect(drafts.length).toBeGreaterThanOrEqual(c.count);
          const after = drafts.map((d) => applyEdit(text, d).split('\n')[d.line].trim());
          if (c.top_after !== undefined) expect(after[0]).toBe(c.top_after);
          for (const line of c.includes ?? []) expect(after).toContain(line);
          for (const line of c.excludes ?? []) expect(after).not.toContain(line);
          for (const word of c.never ?? []) {
            for (const d of drafts) {
              for (let i = text.indexOf(word); i >= 0; i = text.indexOf(word, i + 1)) {
                expect(d.offset >= i + word.length || d.offset + d.delete <= i, `draft at ${d.offset} edits inside ${word}`).toBe(true);
              }
            }
          }
          // shown only when the gate's probability (the first draft's score) reaches the threshold
          if (drafts.length) expect(drafts[0].score).toBeGreaterThanOrEqual(threshold);
          for (const d of drafts) expect(d.score).toBeLessThanOrEqual(1);
          expect([...drafts].sort((a, b) => b.score - a.score)).toEqual(drafts);
        });
      }
    });
  }
});

describe('next-edit pieces', () => {
  it('reads a change at token granularity', () => {
    expect(tokenChange('const WebviewView = 1;', 'const Webview = 1;')).toEqual({ before: ['const', ' '], old: ['WebviewView'], neu: ['Webview'], after: [' ', '=', ' ', '1', ';'] });
    expect(tokenChange("lang = 'objective-c'", 'lang = "objective-c"')?.old).toEqual(["'objective-c'"]);
    expect(tokenChange('same', 'same')).toBeNull();
  });

  it('compares edits by the document they produce', () => {
    const text = 'abc abc';
    expect(sameResult(text, { offset: 4, delete: 3, insert: 'xyz' }, { offset: 4, delete: 3, insert: 'xyz' })).toBe(true);
    // replacing "bc" by "yz" after the a is the same document as replacing "abc" by "ayz"
    expect(sameResult(text, { offset: 5, delete: 2, insert: 'yz' }, { offset: 4, delete: 3, insert: 'ayz' })).toBe(true);
    expect(sameResult(text, { offset: 5, delete: 2, insert: 'yz' }, { offset: 0, delete: 3, insert: 'ayz' })).toBe(false);
    expect(applyEdit(text, { offset: 4, delete: 3, insert: 'x' })).toBe('abc x');
  });

  it('lists every token-aligned site, the user’s own left out, and skips sites already changed', () => {
    const code = 'let a = foo;\nfoo(foo, foobar, await foo);\n';
    const text = code.replace('foo;', 'await foo;');
    const edit = { offset: 8, delete: 6, insert: 'await ', old: '' };
    const sites = candidateSites(text, edit);
    // an insertion is anchored on both neighbours: "= " before and "foo" after, which no other site has
    expect(sites).toEqual([]);
    // token-aware at any threshold: the sites of Tokenizer are whole tokens only
    const tok = candidateSites('let t: BasicTokenizer;\nconst f = new BasicTokenizerFactory();\nfunction g(x: Tokenizer) {}\n', { offset: 7, delete: 14, insert: 'BasicTokenizer', old: 'Tokenizer' });
    expect(tok.map((s) => s.site.line)).toEqual([2]);
    const rename = candidateSites('let bar = 1;\nfoo(foo, foobar);\n', { offset: 4, delete: 3, insert: 'bar', old: 'foo' });
    expect(rename.map((s) => s.edit.offset)).toEqual([13, 17]);
    expect(rename.every((s) => s.edit.insert === 'bar' && s.old === 'foo')).toBe(true);
  });

  it('the gate decides per edit: a rename not carried through passes it, a use switched to an existing name does not', () => {
    const rename = parse('def parse(⟦json_data⟶json_str⟧):\n    if not json_data:\n        return None\n    return json.loads(json_data)\n');
    const switched = parse('def total(items, tax):\n    subtotal = sum(items)\n    return subtotal * (1 + ⟦rate⟶tax⟧)\n\nrate = 0.2\nprint(total([1, 2], rate))\n');
    const p = (c: { text: string; edit: UserEdit }) => gatedSites(c)!.p;
    expect(p(rename)).toBeGreaterThanOrEqual(DEFAULTS.nextEditThreshold);
    expect(p(switched)).toBeLessThan(DEFAULTS.nextEditThreshold);
    // no site at all: no gate
    expect(gatedSites(parse('x = ⟦1⟶2⟧\n'))).toBeNull();
    expect(countToken('foo foobar $foo foo.x', 'foo')).toBe(2);
  });

  it('a penalty for a dismissed site lowers it below the threshold', () => {
    const { text, edit } = parse('class Agent:\n    def run(self, task):\n        self.logger.⟦log_error⟶log_warning⟧(task)\n        self.logger.log_error(task)\n');
    const first = proposeNextEdits({ text, edit, k: 3, threshold: DEFAULTS.nextEditThreshold });
    expect(first.length).toBe(1);
    const key = siteKey(first[0].old, first[0].insert, text.split('\n')[first[0].line]);
    const after = proposeNextEdits({ text, edit, k: 3, threshold: DEFAULTS.nextEditThreshold, penalties: new Map([[key, -10]]) });
    expect(after).toEqual([]);
  });

  it('the naive rule repeats the change at the nearest occurrences, inside words too', () => {
    const text = 'x = Tokenizer()\ny = BasicTokenizerFactory()\nz = Tokenizer\n';
    const edit = { offset: 4, delete: 5, insert: 'Lexer', old: 'Tokenizer' };
    const naive = naiveNextEdits(text, { ...edit, delete: 5 }, 3);
    expect(naive.map((e) => e.offset)).toEqual([25, 48]);
  });
});
