import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/paths';

describe('import graph', () => {
  it('has no import cycle under src/ (scripts/check-cycles.mjs)', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'check-cycles.mjs')], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^no import cycles in \d+ modules under src\//);
  });
});
