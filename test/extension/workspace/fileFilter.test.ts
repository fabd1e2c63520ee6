import { describe, expect, it } from 'vitest';
import { GitIgnore, WorkspaceFilter, excludeGlob, filterInSlices, skipByName } from '../../../src/extension/workspace/fileFilter';

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

describe('WorkspaceFilter (gitignore through the ignore package)', () => {
  it('skips an invalid .gitignore line, not the whole file', () => {
    const gi = new GitIgnore(['[z-a].txt', 'build/', '*.log'].join('\n'));
    expect(gi.ignores('build/out.js')).toBe(true);
    expect(gi.ignores('a/debug.log')).toBe(true);
    expect(gi.ignores('src/main.ts')).toBe(false);
    const f = new WorkspaceFilter({ gitignores: [{ dir: '', text: '[z-a].txt\nlocal/\n' }], secrets: [] });
    expect(f.ignores('local/notes.ts')).toBe(true);
    expect(f.ignores('src/index.ts')).toBe(false);
  });

  it('applies nested .gitignore files relative to their directory, deeper overriding shallower', () => {
    const f = new WorkspaceFilter({
      gitignores: [
        { dir: 'packages/app', text: 'generated/\n/local.ts\n!keep.log\n' },
        { dir: '', text: '*.log\nvendor/\n' },
        { dir: 'vendor/lib', text: '!important.ts\n' },
      ],
      secrets: [],
    });
    expect(f.ignores('packages/app/generated/x.ts')).toBe(true);
    expect(f.ignores('packages/app/local.ts')).toBe(true);
    expect(f.ignores('packages/app/src/local.ts')).toBe(false); // anchored to its own directory
    expect(f.ignores('generated/x.ts')).toBe(false); // the nested file does not apply above it
    expect(f.ignores('packages/app/keep.log')).toBe(false); // re-included by the deeper file
    expect(f.ignores('packages/other/keep.log')).toBe(true);
    // A file in an ignored directory cannot be re-included.
    expect(f.ignores('vendor/lib/important.ts')).toBe(true);
    expect(f.reason('vendor/lib/important.ts')).toBe('.gitignore');
  });

  it('honours .git/info/exclude (below .gitignore in precedence) and the exclude settings', () => {
    const f = new WorkspaceFilter({
      infoExclude: '# personal\nscratch/\n*.tmp\n',
      gitignores: [{ dir: '', text: '!keep.tmp\n' }],
      excludes: [{ '**/coverage': true, '**/*.{snap,orig}': true, 'docs/api': true, '**/off': false, '**/*.js': { when: '$(basename).ts' } }, undefined],
      secrets: [],
    });
    expect(f.ignores('scratch/a.ts')).toBe(true);
    expect(f.ignores('x/y.tmp')).toBe(true);
    expect(f.ignores('keep.tmp')).toBe(false);
    expect(f.reason('pkg/coverage/lcov.info')).toBe('exclude setting');
    expect(f.ignores('a/b.snap')).toBe(true);
    expect(f.ignores('a/b.orig')).toBe(true);
    expect(f.ignores('docs/api/index.md')).toBe(true);
    expect(f.ignores('x/docs/api/index.md')).toBe(false);
    expect(f.ignores('off/a.ts')).toBe(false);
    expect(f.ignores('src/a.js')).toBe(false);
  });

  it('never indexes secrets, even when a .gitignore re-includes them', () => {
    const f = new WorkspaceFilter({ gitignores: [{ dir: '', text: '!.env\n!*.pem\n' }] });
    for (const p of ['.env', '.env.local', 'app/.env.production', 'certs/server.pem', 'tls/server.key', 'home/.ssh/id_rsa', 'id_ed25519.pub', 'store.p12', 'a.pfx', '.npmrc', 'sub/.netrc', 'credentials.json', 'config/secrets.yml', '.aws/credentials', 'infra/terraform.tfstate']) {
      expect(f.reason(p), p).toBe('secret');
    }
    for (const p of ['src/env.ts', 'src/keyboard.ts', 'docs/secrets-management.md', 'src/environment.ts', 'README.md']) {
      expect(f.ignores(p), p).toBe(false);
    }
  });

  it('matches pathological patterns in linear time (no ReDoS on the extension host)', () => {
    const timings: [string, number][] = [];
    const time = (label: string, f: () => void) => {
      const t0 = performance.now();
      f();
      timings.push([label, performance.now() - t0]);
    };
    const stars = new WorkspaceFilter({ gitignores: [{ dir: '', text: '*a*a*a*a*a*a*a*a\n*a*a*a*a*a*a*a*a*b\n' }], secrets: [] });
    for (const name of ['a'.repeat(39) + 'b', 'a'.repeat(40), 'ab'.repeat(20), 'a'.repeat(39) + 'c']) {
      time(`8 stars vs ${name.slice(0, 6)}… (${name.length})`, () => stars.ignores(`dir/${name}`));
    }
    const deepPath = Array.from({ length: 31 }, (_, i) => `d${i}`).join('/') + '/file.ts';
    const globstars = new WorkspaceFilter({ gitignores: [{ dir: '', text: '**/'.repeat(10) + 'x\n' + '**/'.repeat(10) + 'file.tsx\n' }], secrets: [] });
    time('**/ x10 vs 31 levels', () => expect(globstars.ignores(deepPath)).toBe(false));
    // The same through the settings' excludes and the secret list.
    const viaExclude = new WorkspaceFilter({ excludes: [{ ['**/'.repeat(10) + '*a*a*a*a*a*a*a*a']: true }] });
    time('exclude: **/ x10 + 8 stars vs 31 levels', () => viaExclude.ignores(deepPath.replace('file.ts', 'a'.repeat(39) + 'b')));
    const worst = timings.reduce((a, b) => (b[1] > a[1] ? b : a));
    console.log(`gitignore pathological patterns: worst ${worst[1].toFixed(2)} ms (${worst[0]}); all: ${timings.map(([l, ms]) => `${l} ${ms.toFixed(2)} ms`).join('; ')}`);
    // The hand-written compiler took 0.9 s (7 stars), 4.4 s (8 stars) and 19.8 s (**/ x10); generous bound for a busy machine.
    expect(worst[1]).toBeLessThan(250);
  });
});

describe('filterInSlices', () => {
  it('filters in bounded slices, yielding between them, and stops when cancelled', async () => {
    let clock = 0;
    let yields = 0;
    const items = Array.from({ length: 100 }, (_, i) => i);
    // Each item "costs" 1 ms of a fake clock: 8 ms slices give a yield every 8 items.
    const kept = await filterInSlices(items, (i) => ((clock += 1), i % 2 === 0), { sliceMs: 8, now: () => clock, yield: async () => void yields++ });
    expect(kept).toEqual(items.filter((i) => i % 2 === 0));
    expect(yields).toBeGreaterThanOrEqual(11);
    clock = 0;
    let n = 0;
    const part = await filterInSlices(items, () => ((clock += 1), true), { sliceMs: 8, now: () => clock, cancelled: () => ++n >= 2, yield: async () => undefined });
    expect(part.length).toBe(16);
  });

  it('lets other work run on the real event loop while a large list is filtered', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const busy = (ms: number) => {
      const end = performance.now() + ms;
      while (performance.now() < end);
    };
    try {
      await filterInSlices(Array.from({ length: 60 }), () => (busy(1), true), { sliceMs: 5 });
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(0);
  });
});
