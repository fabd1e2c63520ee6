/**
 * The one path policy of model folders (src/engine/model/modelPaths.ts) where it is used: readModelConfig (each
 * field that names a file, the variant asked for, the files it opens itself), prepare (the ONNX files, every external
 * data location) and the runtime's size count. Each field with each spelling: a ".." that leaves the folder, an
 * absolute path, a symlink out, a backslash, a drive letter; each refused with a message naming the field and the
 * path, and nothing outside the folder is read (the outside files hold a marker that must not appear anywhere).
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelLoadError, readModelConfig } from '../../../src/engine/model/config';
import { containedPath } from '../../../src/engine/model/modelPaths';
import { decodeModel, encodeModel, externalTensors } from '../../../src/engine/model/onnx/proto';
import { modelBytes } from '../../../src/engine/model/modelSize';
import { prepareModel } from '../../../src/prepare/prepare';
import { REPLICAS } from '../../helpers/paths';

const tmp = mkdtempSync(path.join(tmpdir(), 'sd-paths-'));
const outside = path.join(tmp, 'outside');
mkdirSync(outside);
writeFileSync(path.join(outside, 'secret.bin'), 'root:x:0:0:OUTSIDE-MARKER\n');
cpSync(path.join(REPLICAS, 'qwen2', 'onnx', 'model_q4.onnx'), path.join(outside, 'outside_model.onnx'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** A fresh copy of the qwen2 replica (Hub layout: onnx/model_q4.onnx + data), config.json's superdraft block set. */
function model(superdraft?: Record<string, unknown>): string {
  const d = path.join(tmp, `m${n++}`);
  cpSync(path.join(REPLICAS, 'qwen2'), d, { recursive: true });
  if (superdraft) {
    const f = path.join(d, 'config.json');
    writeFileSync(f, JSON.stringify({ ...JSON.parse(readFileSync(f, 'utf8')), superdraft }));
  }
  return d;
}

/** The spellings of a path out of a model folder `d` (a symlink "link" is made in it). */
function spellings(d: string, target: string): [string, string, RegExp][] {
  symlinkSync(target, path.join(d, 'link'));
  return [
    ['..', `../outside/${path.basename(target)}`, /which is outside the model folder/],
    ['absolute', target, /which is an absolute path/],
    ['symlink out', 'link', /which resolves \(through a symlink\) to ".*outside.*", outside the model folder/],
    ['backslash', `..\\outside\\${path.basename(target)}`, /which contains a backslash/],
    ['drive letter', 'C:/Windows/win.ini', /which starts with a drive letter/],
  ];
}

function refused(f: () => unknown, field: string, named: string, why: RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err, `${field} ${named}`).toBeInstanceOf(ModelLoadError);
  const msg = (err as Error).message;
  expect(msg.startsWith(`${field} names ${JSON.stringify(named)}, `), msg).toBe(true);
  expect(msg).toMatch(why);
  expect(msg).toMatch(/; the model is refused \(every file a model names must be inside its folder .*\)$/);
  expect(msg).not.toContain('OUTSIDE-MARKER');
}

describe('readModelConfig: every field that names a file', () => {
  it('superdraft.ngrams: each spelling refused, naming the field and the path', () => {
    const base = model();
    for (const [, named, why] of spellings(base, path.join(outside, 'secret.bin'))) {
      const d = model({ ngrams: named });
      if (named === 'link') symlinkSync(path.join(outside, 'secret.bin'), path.join(d, 'link'));
      refused(() => readModelConfig(d), 'config.json superdraft.ngrams', named, why);
    }
  });

  it('superdraft.onnx.default: each spelling refused (the outside graph is never loaded)', () => {
    const base = model();
    for (const [, named, why] of spellings(base, path.join(outside, 'outside_model.onnx'))) {
      const d = model({ onnx: { default: named } });
      if (named === 'link') symlinkSync(path.join(outside, 'outside_model.onnx'), path.join(d, 'link'));
      refused(() => readModelConfig(d), 'config.json superdraft.onnx.default', named, why);
    }
  });

  it('superdraft.onnx.variants.<name> and the variant asked for (--variant): each spelling refused', () => {
    const base = model();
    for (const [, named, why] of spellings(base, path.join(outside, 'outside_model.onnx'))) {
      const d = model({ onnx: { variants: { evil: named } } });
      if (named === 'link') symlinkSync(path.join(outside, 'outside_model.onnx'), path.join(d, 'link'));
      refused(() => readModelConfig(d, 'evil'), 'config.json superdraft.onnx.variants.evil', named, why);
      refused(() => readModelConfig(d, named), 'the variant', named, why);
    }
  });

  it('tokenizer.json, tokenizer_config.json and config.json that are symlinks out of the folder are refused', () => {
    for (const file of ['tokenizer.json', 'tokenizer_config.json', 'config.json']) {
      const d = model();
      const out = path.join(outside, `${n}-${file}`);
      cpSync(path.join(d, file), out);
      rmSync(path.join(d, file));
      symlinkSync(out, path.join(d, file));
      refused(() => readModelConfig(d), file, file, /which resolves \(through a symlink\) to ".*outside.*", outside the model folder/);
    }
  });

  it('paths that stay inside are read as before: onnx/../onnx/model_q4.onnx, a symlink inside the folder', () => {
    const d = model({ onnx: { default: 'onnx/../onnx/model_q4.onnx' } });
    expect(readModelConfig(d).modelFile).toBe(path.join(d, 'onnx', 'model_q4.onnx'));
    symlinkSync(path.join(d, 'onnx', 'model_q4.onnx'), path.join(d, 'inside.onnx'));
    const e = model({ onnx: { default: 'inside.onnx' } });
    symlinkSync(path.join(e, 'onnx', 'model_q4.onnx'), path.join(e, 'inside.onnx'));
    expect(readModelConfig(e).modelFile).toBe(path.join(e, 'inside.onnx'));
    expect(readModelConfig(d, 'q4').modelFile).toBe(path.join(d, 'onnx', 'model_q4.onnx'));
  });

  it('_name_or_path with terminal escapes comes out printable', () => {
    const d = model();
    const f = path.join(d, 'config.json');
    writeFileSync(f, JSON.stringify({ ...JSON.parse(readFileSync(f, 'utf8')), _name_or_path: 'evil\x1b]0;pwned\x07\x1b[2J\u009b' }));
    expect(readModelConfig(d).name).toBe('evil\\x1b]0;pwned\\x07\\x1b[2J\\x9b');
  });
});

/** The replica's q4 graph with every external data location replaced. */
function withLocation(d: string, location: string): string {
  const g = path.join(d, 'onnx', 'model_q4.onnx');
  const m = decodeModel(readFileSync(g));
  for (const { tensor } of externalTensors(m)) for (const e of tensor.external_data ?? []) if (e.key === 'location') e.value = location;
  writeFileSync(g, encodeModel(m));
  rmSync(path.join(d, 'onnx', 'model.onnx'));
  rmSync(path.join(d, 'onnx', 'model.onnx_data'));
  return g;
}

describe('prepare: external data locations and the ONNX files', () => {
  it('an external data location out of the folder: each spelling refused naming the graph, the tensor and the path', () => {
    const base = model();
    for (const [, named, why] of spellings(base, path.join(outside, 'secret.bin'))) {
      const d = model();
      if (named === 'link') symlinkSync(path.join(outside, 'secret.bin'), path.join(d, 'onnx', 'link'));
      const g = withLocation(d, named);
      let msg = '';
      try {
        prepareModel(d);
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg, named).toMatch(new RegExp(`^${g.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: tensor .+'s external data location names ${JSON.stringify(named).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}, `));
      expect(msg).toMatch(why);
      expect(msg).not.toMatch(/truncated|OUTSIDE-MARKER/);
      // The runtime's size count does not look outside either: the graph and the data file named after it, nothing else.
      expect(modelBytes(g)).toBe(readFileSync(g).length + readFileSync(`${g}_data`).length);
    }
  });

  it('a graph that is a symlink out of the folder is refused', () => {
    const d = model();
    rmSync(path.join(d, 'onnx', 'model.onnx'));
    symlinkSync(path.join(outside, 'outside_model.onnx'), path.join(d, 'onnx', 'model.onnx'));
    expect(() => prepareModel(d)).toThrow(/^the ONNX file names "onnx\/model\.onnx", which resolves \(through a symlink\) to ".*outside_model\.onnx", outside the model folder/);
  });
});

describe('containedPath', () => {
  it('refuses non-strings, empty names and NUL; names the field', () => {
    expect(() => containedPath(tmp, 123, 'f')).toThrow('f names 123, which is not a file name');
    expect(() => containedPath(tmp, '', 'f')).toThrow('f names "", which is not a file name');
    expect(() => containedPath(tmp, 'a\0b', 'f')).toThrow(/f names "a\\\\x00b", which contains a NUL character/);
    expect(() => containedPath(tmp, '.', 'f')).toThrow(/which is outside the model folder/);
    expect(containedPath(tmp, 'not/there/yet.bin', 'f')).toBe(path.join(tmp, 'not', 'there', 'yet.bin'));
  });
});
