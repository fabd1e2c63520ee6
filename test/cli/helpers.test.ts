import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError, languageOf, readTextFile, splitAt } from '../../src/cli/files';
import { editSimilarity, firstLineOf, levenshtein, normaliseBlock, percentile } from '../../src/cli/metrics';

describe('splitAt (1-based line and column)', () => {
  const text = 'ab\ncd\r\n\nxyz';
  it('splits at line starts, inside lines and at line ends', () => {
    expect(splitAt(text, 1, 1)).toEqual({ prefix: '', suffix: text });
    expect(splitAt(text, 1, 3)).toEqual({ prefix: 'ab', suffix: '\ncd\r\n\nxyz' });
    expect(splitAt(text, 2, 2)).toEqual({ prefix: 'ab\nc', suffix: 'd\r\n\nxyz' });
    expect(splitAt(text, 2, 3)).toEqual({ prefix: 'ab\ncd', suffix: '\r\n\nxyz' }); // CRLF: end of line is before \r
    expect(splitAt(text, 3, 1)).toEqual({ prefix: 'ab\ncd\r\n', suffix: '\nxyz' });
    expect(splitAt(text, 4, 4)).toEqual({ prefix: text, suffix: '' });
  });
  it('rejects positions outside the file', () => {
    expect(() => splitAt(text, 5, 1, 'f.ts')).toThrow(/--line 5 is past the end of f.ts \(4 lines\)/);
    expect(() => splitAt(text, 2, 4, 'f.ts')).toThrow(/--column 4 is past the end of line 2/);
    expect(() => splitAt(text, 2, 4)).toThrow(UsageError);
  });
});

describe('readTextFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sd-cli-'));
  it('reads UTF-8 text and drops a BOM', () => {
    const f = join(dir, 'a.py');
    writeFileSync(f, '\ufeffprint("é")\n');
    expect(readTextFile(f)).toBe('print("é")\n');
  });
  it('rejects binary, huge, missing files and directories', () => {
    const bin = join(dir, 'b.bin');
    writeFileSync(bin, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3]));
    expect(() => readTextFile(bin)).toThrow(/looks binary/);
    const big = join(dir, 'big.ts');
    writeFileSync(big, Buffer.alloc(10 * 1024 * 1024, 0x61));
    expect(() => readTextFile(big)).toThrow(/too large .* limit is 10 MB/);
    expect(() => readTextFile(join(dir, 'none.ts'))).toThrow(/does not exist/);
    expect(() => readTextFile(dir)).toThrow(/is a directory/);
  });
  it('maps extensions to VS Code language ids', () => {
    expect(languageOf('x/y.tsx')).toBe('typescriptreact');
    expect(languageOf('y.PY')).toBe('python');
    expect(languageOf('Makefile')).toBe('plaintext');
  });
});

describe('metrics', () => {
  it('levenshtein and edit similarity', () => {
    expect(levenshtein('kitten', 'sitting')).toBe(3);
    expect(levenshtein('', 'abc')).toBe(3);
    expect(levenshtein('same', 'same')).toBe(0);
    expect(editSimilarity('', '')).toBe(1);
    expect(editSimilarity('abcd', 'abce')).toBeCloseTo(0.75, 12);
    expect(editSimilarity('', 'abc')).toBe(0);
  });
  it('first line with trailing whitespace trimmed', () => {
    expect(firstLineOf('foo(x);  \nbar')).toBe('foo(x);');
    expect(firstLineOf('  a\t')).toBe('  a');
    expect(firstLineOf('\nx')).toBe('');
  });
  it('percentiles interpolate on the sorted sample', () => {
    expect(percentile([5, 1, 3], 0.5)).toBe(3);
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21], 0.95)).toBe(20);
    expect(percentile([], 0.5)).toBe(0);
  });
});

describe('normaliseBlock (what eval --mode block compares)', () => {
  it('drops trailing whitespace per line and trailing blank lines, and reads CRLF as LF', () => {
    expect(normaliseBlock('a = 1  \r\n    b()\t\n\n   \n')).toBe('a = 1\n    b()');
    expect(normaliseBlock('x\r\ny')).toBe('x\ny');
    expect(normaliseBlock('  \n\n')).toBe('');
  });
  it('keeps indentation, leading and inner blank lines', () => {
    expect(normaliseBlock('\nif x:\n\n        y')).toBe('\nif x:\n\n        y');
    expect(normaliseBlock('a\n\tb')).not.toBe(normaliseBlock('a\n    b'));
  });
});
