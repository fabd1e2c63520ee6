/**
 * The pure parts of an install: variant choice over the Hub's real listings (names and sizes of
 * onnx-community/Qwen2.5-Coder-3B-Instruct's onnx/ folder as the Hub lists them), repository references, model
 * names, the presets, and the CLI's progress line.
 */
import { describe, expect, it } from 'vitest';
import { progressLine } from '../../src/cli/progress';
import { chooseVariant, endpointName, hubEndpoint, parseRepoRef, type RepoFile } from '../../src/install/hub';
import { PRESETS, VARIANTS, findPreset, memoryNeeded } from '../../src/install/presets';
import { checkModelName, nameForRepo } from '../../src/install/store';
import { formatBytes } from '../../src/install/errors';
import { printable, redact, redactUrl, safeMessage } from '../../src/protocol/redact';

const GB = 1e9;
const listing: RepoFile[] = [
  { path: '.gitattributes', size: 1_600 },
  { path: 'README.md', size: 800 },
  { path: 'config.json', size: 760 },
  { path: 'generation_config.json', size: 242 },
  { path: 'tokenizer.json', size: 7_030_000 },
  { path: 'tokenizer_config.json', size: 7_300 },
  { path: 'onnx/model.onnx', size: 680_000 },
  { path: 'onnx/model.onnx_data', size: 13.6 * GB },
  { path: 'onnx/model_bnb4.onnx', size: 905e6 },
  { path: 'onnx/model_bnb4.onnx_data', size: 2.09 * GB },
  { path: 'onnx/model_fp16.onnx', size: 682_000 },
  { path: 'onnx/model_fp16.onnx_data', size: 6.8 * GB },
  { path: 'onnx/model_q4.onnx', size: 1.1 * GB },
  { path: 'onnx/model_q4.onnx_data', size: 2.09 * GB },
  { path: 'onnx/model_q4f16.onnx', size: 271e6 },
  { path: 'onnx/model_q4f16.onnx_data', size: 1.9 * GB },
  { path: 'onnx/model_q4f16.onnx_data_1', size: 0.2 * GB },
];

describe('variant choice', () => {
  it('q4 on CPU, q4f16 on a GPU, each with its external data (all parts) and the JSON files', () => {
    const cpu = chooseVariant('r', listing, undefined, false);
    expect(cpu.variant).toBe('q4');
    expect(cpu.onnx.map((f) => f.path)).toEqual(['onnx/model_q4.onnx', 'onnx/model_q4.onnx_data']);
    expect(cpu.extra.map((f) => f.path)).toEqual(['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json']);
    expect(cpu.available).toEqual(['bnb4', 'fp16', 'fp32', 'q4', 'q4f16']);
    const gpu = chooseVariant('r', listing, undefined, true);
    expect(gpu.onnx.map((f) => f.path)).toEqual(['onnx/model_q4f16.onnx', 'onnx/model_q4f16.onnx_data', 'onnx/model_q4f16.onnx_data_1']);
    expect(chooseVariant('r', listing, 'fp32', false).onnx.map((f) => f.path)).toEqual(['onnx/model.onnx', 'onnx/model.onnx_data']);
  });

  it('without q4: int8 then fp32 on CPU; fp16 on a GPU without q4f16', () => {
    const noQ4 = listing.filter((f) => !f.path.includes('_q4'));
    expect(chooseVariant('r', noQ4, undefined, false).variant).toBe('fp32');
    expect(chooseVariant('r', [...noQ4, { path: 'onnx/model_int8.onnx', size: 1 }], undefined, false).variant).toBe('int8');
    expect(chooseVariant('r', noQ4, undefined, true).variant).toBe('fp16');
  });

  it('refuses a missing variant, a listing without tokenizer.json, one without ONNX files', () => {
    expect(() => chooseVariant('o/r', listing, 'int8', false)).toThrow('o/r has no int8 variant; it has bnb4, fp16, fp32, q4, q4f16');
    expect(() => chooseVariant('o/r', listing.filter((f) => f.path !== 'tokenizer.json'), undefined, false)).toThrow(/o\/r has ONNX files but no tokenizer\.json/);
    expect(() => chooseVariant('o/r', listing.filter((f) => !f.path.endsWith('.onnx')), undefined, false)).toThrow(/o\/r has no ONNX model .*it has \.gitattributes \(1\.6 kB\), README\.md \(800 B\)/);
  });
});

describe('references, names, endpoint', () => {
  it('parses owner/name[@revision] and refuses anything else', () => {
    expect(parseRepoRef('onnx-community/Qwen2.5-Coder-0.5B-Instruct')).toEqual({ repo: 'onnx-community/Qwen2.5-Coder-0.5B-Instruct', revision: 'main' });
    expect(parseRepoRef('a/b@refs/pr/1')).toEqual({ repo: 'a/b', revision: 'refs/pr/1' });
    expect(parseRepoRef('a/b@cdfe1d2781453c053117f1a7878fe1e64e6c66be').revision).toBe('cdfe1d2781453c053117f1a7878fe1e64e6c66be');
    for (const bad of ['qwen', 'a/b/c', '../x/y', 'a/..', 'a/b@', 'https://x/a/b']) expect(() => parseRepoRef(bad), bad).toThrow(/is neither a preset nor a Hub repository/);
  });

  it('model names from repositories, and the names a folder may have', () => {
    expect(nameForRepo('onnx-community/deepseek-coder-1.3b-instruct-ONNX')).toBe('deepseek-coder-1.3b-instruct');
    expect(nameForRepo('Xenova/tiny_starcoder_py')).toBe('tiny_starcoder_py');
    expect(checkModelName('qwen2.5-coder-0.5b')).toBe('qwen2.5-coder-0.5b');
    for (const bad of ['', '.hidden', 'a/b', 'A', 'a..b', 'x'.repeat(65)]) expect(() => checkModelName(bad), bad).toThrow(/is not a valid model name/);
  });

  it('HF_ENDPOINT without its trailing slash; unset or blank = the public Hub', () => {
    expect(hubEndpoint({ HF_ENDPOINT: 'https://mirror.example/ ' })).toBe('https://mirror.example');
    expect(hubEndpoint({ HF_ENDPOINT: '  ' })).toBeUndefined();
    expect(hubEndpoint({})).toBeUndefined();
    expect(endpointName('https://user:secret@mirror.example/hub/')).toBe('https://mirror.example/hub');
  });
});

describe('presets', () => {
  it('each has a q4 variant, a supported family, a unique name found by name or repository', () => {
    expect(new Set(PRESETS.map((p) => p.name)).size).toBe(PRESETS.length);
    for (const p of PRESETS) {
      expect(p.variants.q4, p.name).toBeDefined();
      for (const v of Object.keys(p.variants)) expect(VARIANTS).toContain(v);
      expect(findPreset(p.name)).toBe(p);
      expect(findPreset(p.repo.toUpperCase())).toBe(p);
      expect(memoryNeeded(p.variants.q4!.bytes)).toBeGreaterThan(p.variants.q4!.bytes);
    }
    expect(PRESETS.map((p) => p.family)).toEqual(expect.arrayContaining(['qwen2', 'llama', 'gpt_bigcode']));
  });
});

describe('progress line', () => {
  it('bar, percentage, bytes, rate, time left, file', () => {
    expect(progressLine({ phase: 'downloading', file: 'onnx/model_q4.onnx', bytes: 431e6, total: 862e6, rate: 12.5e6, eta: 34.48 }, 10)).toBe(
      '[#####-----]  50%  431.0 MB / 862.0 MB  12.5 MB/s  0:34 left  onnx/model_q4.onnx',
    );
    expect(progressLine({ phase: 'downloading', bytes: 0, total: 2e9, rate: 0 }, 4)).toBe('[----]   0%  0 B / 2.00 GB  -- /s  --:-- left');
    expect(progressLine({ phase: 'downloading', bytes: 1e9, total: 2e9, rate: 1e5, eta: 10_000 }, 4)).toMatch(/2:46:40 left$/);
  });
});

describe('redaction and printable output (src/protocol/redact.ts)', () => {
  it('URLs lose their credentials and token-like query values; hf_ tokens and Bearer values are masked; given secrets go whatever their form', () => {
    expect(redactUrl('http://u:hf_PASS@127.0.0.1:8080/a?x=1')).toBe('http://127.0.0.1:8080/a?x=1');
    expect(redactUrl('https://cdn.example/f?X-Amz-Signature=abc&token=t0k&n=1')).toBe('https://cdn.example/f?X-Amz-Signature=***&token=***&n=1');
    expect(redactUrl('http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080');
    const text = redact('cannot reach http://u:pw@h/x: Headers.append: "Bearer hf_abcdefgh12345" is an invalid header value; raw hf_zzzzzzzzzz and my-secret-value-1', ['my-secret-value-1']);
    expect(text).toBe('cannot reach http://h/x: Headers.append: "Bearer ***" is an invalid header value; raw hf_*** and ***');
    expect(redact('token was hf_abcd\nefghijkl', ['hf_abcd\nefghijkl'])).toBe('token was ***');
  });

  it('printable: control characters (escapes, bells, C1) become \\xNN; safeMessage keeps line breaks', () => {
    expect(printable('a\x1b]0;t\x07\x1b[2J\u009bz\n')).toBe('a\\x1b]0;t\\x07\\x1b[2J\\x9bz\\x0a');
    expect(safeMessage('line 1\nline 2 \x1b[31mred hf_secret123456')).toBe('line 1\nline 2 \\x1b[31mred hf_***');
  });

  it('a rate under 1 kB/s is a whole number of bytes', () => {
    expect(formatBytes(524.2393441898491)).toBe('524 B');
    expect(progressLine({ phase: 'downloading', bytes: 1000, total: 2e6, rate: 524.2393441898491, eta: 3800 }, 4)).toMatch(/ 524 B\/s /);
  });
});
