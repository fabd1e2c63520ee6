import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelLoadError, readModelConfig } from '../../../src/engine/model/config';

describe('model config', () => {
  it.each([
    ['null', 'null'],
    ['[1, 2]', 'an array'],
    ['42', 'a number'],
    ['"text"', 'a string'],
  ])('a config.json holding %s is an error naming the file', (json, got) => {
    const dir = mkdtempSync(join(tmpdir(), 'superdraft-cfg-'));
    writeFileSync(join(dir, 'config.json'), json);
    const file = join(dir, 'config.json');
    expect(() => readModelConfig(dir)).toThrow(ModelLoadError);
    expect(() => readModelConfig(dir)).toThrow(`model config must be a JSON object: ${file} contains ${got}`);
  });
});
