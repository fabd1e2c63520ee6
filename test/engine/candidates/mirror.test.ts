/**
 * Lines that mirror the one being typed with other names (mirror.ts): the search itself, and on the real embedded
 * model, such a line ranked with the other drafts and reported with its renaming.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../../src/engine/engine';
import { findMirrors, renamingOf } from '../../../src/engine/candidates/mirror';
import { sourceLabel } from '../../../src/extension/panel/panelHtml';

const OPTIONS = [
  'function apply(req: Request, flags: Flags): void {',
  '  if (flags.topP !== undefined) req.topP = flags.topP;',
  '  if (flags.seed !== undefined) req.seed = flags.seed;',
  '  if (flags.temperature !== undefined)',
].join('\n');

describe('findMirrors', () => {
  it('renames the differing name in the rest of the nearest mirrored line', () => {
    const sites = findMirrors(OPTIONS, '\n}\n', 2);
    expect(sites[0]).toMatchObject({ path: '', offset: -1, text: ' req.temperature = flags.temperature;', renamed: [['seed', 'temperature']] });
    // the topP line two lines up gives the same continuation: one site
    expect(sites).toHaveLength(1);
    expect(findMirrors(OPTIONS.replace('  if (flags.seed !== undefined) req.seed = flags.seed;\n', ''), '\n}\n', 2)[0]).toMatchObject({ offset: -1, renamed: [['topP', 'temperature']] });
    expect(sites[0].matchLength).toBe('if (flags. !== undefined)'.replace(/ /g, '').length);
  });

  it('renames parts of names in their case forms, and completes a name the cursor is inside', () => {
    const prefix = "const CASES = [\n  { name: 'superposed_k4', over: { strategy: 'superposed', k: K } },\n  { name: 'beam_k4', over: { str";
    expect(findMirrors(prefix, '\n];\n', 2)[0]).toMatchObject({ text: "ategy: 'beam', k: K } },", renamed: [['superposed_k4', 'beam_k4']] });
    expect(renamingOf('superposed_k4', 'beam_k4')).toEqual(['superposed', 'beam']);
    expect(renamingOf('getWidth', 'getHeight')).toEqual(['Width', 'Height']);
    expect(renamingOf('topP', 'temperature')).toEqual(['topP', 'temperature']);
    const setter = findMirrors('  setWidth(width: number) { this.width = width; }\n  setHeight(height: number) {', '\n', 1);
    expect(setter[0]).toMatchObject({ text: ' this.height = height; }', offset: -1 });
  });

  it('finds lines below the cursor, and nothing for lines of another shape, too short, or already copied', () => {
    expect(findMirrors('  rect.left = bounds', '\n  rect.right = bounds.right;\n', 1)[0]).toMatchObject({ text: '.left;', offset: 1 });
    expect(findMirrors('x = 1\ny = foo(', '\n', 2)).toEqual([]); // only two tokens typed... of another shape
    expect(findMirrors('  return', '\n', 2)).toEqual([]);
    expect(findMirrors(OPTIONS, '\n', 2, new Set(['req.temperature = flags.temperature;'])).every((s) => !s.text.includes('req.temperature'))).toBe(true);
    // more than two renamed names is another line, not a mirror
    expect(findMirrors('f(a, b, c) + g;\nh(x, y, z)', '\n', 1)).toEqual([]);
  });

  it('is labelled with its renaming in the panel', () => {
    expect(sourceLabel({ path: '', offset: -1, matchLength: 20, renamed: [['seed', 'temperature']] }, 10)).toBe('like line 10, seed → temperature');
  });
});

describe('mirrored lines on the embedded model', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.load({ device: 'cpu' });
  });
  afterAll(async () => {
    await engine?.dispose();
  });

  it('are ranked with the other drafts for every multi-draft strategy, greedy excepted', async () => {
    for (const strategy of ['superposed', 'beam', 'sampling'] as const) {
      const res = await engine.complete({ prefix: OPTIONS, suffix: '\n}\n', languageId: 'typescript', path: 'src/flags.ts', strategy, k: 3, maxTokens: 32, mode: 'line', speculative: false, seed: 2 });
      const mirrored = res.drafts.find((d) => d.copiedFrom?.renamed);
      expect(mirrored, strategy).toBeDefined();
      expect(mirrored!.text).toBe(' req.temperature = flags.temperature;');
      expect(Number.isFinite(mirrored!.score)).toBe(true);
    }
    const greedy = await engine.complete({ prefix: OPTIONS, suffix: '\n}\n', languageId: 'typescript', path: 'src/flags.ts', strategy: 'greedy', k: 1, maxTokens: 32, mode: 'line' });
    expect(greedy.drafts.every((d) => d.copiedFrom === undefined)).toBe(true);
  });
});
