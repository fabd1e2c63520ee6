import { describe, expect, it } from 'vitest';
import { GitIgnore, excludeGlob, skipByName } from '../../src/extension/fileFilter';

describe('GitIgnore', () => {
  const gi = new GitIgnore(['# comment', 'node_modules/', '*.log', '!keep.log', '/build', 'docs/**/*.tmp', 'secret?.txt', ''].join('\n'));
  it('matches files, directories, anchored and negated rules', () => {
    expect(gi.ignores('node_modules/x/index.js')).toBe(true);
    expect(gi.ignores('pkg/node_modules/y.js')).toBe(true);
    expect(gi.ignores('src/node_modules.ts')).toBe(false);
    expect(gi.ignores('a/b/debug.log')).toBe(true);
    expect(gi.ignores('a/keep.log')).toBe(false);
    expect(gi.ignores('build/out.js')).toBe(true);
    expect(gi.ignores('src/build/out.js')).toBe(false);
    expect(gi.ignores('docs/a/b/c.tmp')).toBe(true);
    expect(gi.ignores('docs/c.tmp')).toBe(true);
    expect(gi.ignores('secret1.txt')).toBe(true);
    expect(gi.ignores('secret12.txt')).toBe(false);
    expect(gi.ignores('src/main.ts')).toBe(false);
  });
});

describe('exclude glob and names', () => {
  it('joins enabled excludes, skipping disabled and conditional ones', () => {
    const g = excludeGlob({ '**/.git': true, '**/tmp': false, '**/*.js': { when: '$(basename).ts' } }, { '**/coverage': true });
    expect(g.startsWith('{') && g.endsWith('}')).toBe(true);
    const parts = g.slice(1, -1).split(',');
    expect(parts).toContain('**/.git');
    expect(parts).toContain('**/.git/**');
    expect(parts).toContain('**/coverage/**');
    expect(parts).toContain('**/node_modules/**');
    expect(parts).not.toContain('**/tmp');
    expect(parts).not.toContain('**/*.js');
  });
  it('skips binary extensions, lockfiles and minified bundles', () => {
    expect(skipByName('a/b/logo.PNG')).toBe(true);
    expect(skipByName('model.onnx')).toBe(true);
    expect(skipByName('package-lock.json')).toBe(true);
    expect(skipByName('dist/app.min.js')).toBe(true);
    expect(skipByName('src/app.ts')).toBe(false);
    expect(skipByName('Makefile')).toBe(false);
  });
});
