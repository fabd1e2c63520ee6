/** Model families: FIM conventions from the tokenizers, the prompts in each family's tokens, `model info`. */
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { modelInfo } from '../../src/cli/model';
import { readModelConfig } from '../../src/engine/model/config';
import { Tokenizer } from '../../src/engine/model/tokenizer';
import { buildPrompt } from '../../src/engine/prompt/prompt';
import { prepareModel } from '../../src/prepare/prepare';
import { REPLICAS } from '../helpers/paths';
import { FAMILIES, copyFixture, removeFixtures } from './replicas';

const FIXTURES = REPLICAS;
afterAll(removeFixtures);

describe('model families: FIM conventions from the tokenizers', () => {
  const want: Record<string, { convention: string; prefix: string; suffix: string; middle: string; ends: string[]; bos?: string }> = {
    qwen2: { convention: 'qwen', prefix: '<|fim_prefix|>', suffix: '<|fim_suffix|>', middle: '<|fim_middle|>', ends: ['<|endoftext|>', '<|im_end|>', '<|file_sep|>'] },
    starcoder2: { convention: 'starcoder', prefix: '<fim_prefix>', suffix: '<fim_suffix>', middle: '<fim_middle>', ends: ['<|endoftext|>', '<file_sep>'] },
    gpt_bigcode: { convention: 'starcoder', prefix: '<fim_prefix>', suffix: '<fim_suffix>', middle: '<fim_middle>', ends: ['<|endoftext|>'] },
    deepseek: { convention: 'deepseek', prefix: '<｜fim▁begin｜>', suffix: '<｜fim▁hole｜>', middle: '<｜fim▁end｜>', ends: ['<｜end▁of▁sentence｜>'], bos: '<｜begin▁of▁sentence｜>' },
    llama: { convention: 'codellama', prefix: '▁<PRE>', suffix: '▁<SUF>', middle: '▁<MID>', ends: ['▁<EOT>', '</s>'], bos: '<s>' },
  };
  for (const family of FAMILIES) {
    it(`${family}: PSM with the family's tokens and end tokens`, () => {
      const cfg = readModelConfig(path.join(FIXTURES, family));
      const w = want[family];
      expect(cfg.fim).toMatchObject({ format: 'psm', convention: w.convention, prefix: w.prefix, suffix: w.suffix, middle: w.middle });
      for (const e of w.ends) expect(cfg.fim?.ends).toContain(e);
      expect(cfg.fim?.bos).toBe(w.bos);
    });
  }

  it("prompts are PSM in each family's tokens, with the BOS the tokenizer adds, and no special text in the prompt body", () => {
    const req = { prefix: 'const a = 1;\nconst b = ', suffix: ';\nexport { a, b };\n', languageId: 'typescript', path: 'src/x.ts', strategy: 'greedy' as const, k: 1, maxTokens: 16, mode: 'line' as const, speculative: false };
    for (const family of FAMILIES) {
      const cfg = readModelConfig(path.join(FIXTURES, family));
      const tok = Tokenizer.load(cfg.tokenizerFile);
      const p = buildPrompt(tok, cfg, req);
      const id = (t: string | undefined): number => (t ? tok.specialId(t) ?? -1 : -1);
      const [pre, suf, mid] = [id(cfg.fim!.prefix), id(cfg.fim!.suffix), id(cfg.fim!.middle)];
      const at = (t: number): number => p.ids.indexOf(t);
      expect(at(pre), family).toBeGreaterThanOrEqual(0);
      expect(at(pre) < at(suf) && at(suf) < at(mid), family).toBe(true);
      expect(at(mid), family).toBe(p.ids.length - 1);
      if (cfg.fim!.bos) expect(p.ids[0], family).toBe(id(cfg.fim!.bos));
      else expect(p.ids[0], family).not.toBe(id('<s>'));
      expect(tok.decode(p.ids.slice(at(pre) + 1, at(suf))), family).toBe(req.prefix.slice(0, -1)); // last token healed
      expect(tok.decode(p.ids.slice(at(suf) + 1, at(mid))), family).toBe(req.suffix);
    }
  });

  it('model info: family, fim, superposition and how to fix it, variants', () => {
    const dir = copyFixture('qwen2');
    const before = modelInfo(dir);
    expect(before).toMatchObject({ family: 'qwen2', superposition: false, fix: `superdraft model prepare ${dir}`, layers: 2, vocab: 465 });
    expect(before.superposition_reason).toMatch(/no superposition input \(token_weights\)/);
    expect(before.fim?.tokens).toMatchObject({ prefix: '<|fim_prefix|>', suffix: '<|fim_suffix|>', middle: '<|fim_middle|>', file_sep: '<|file_sep|>', repo_name: '<|repo_name|>' });
    expect(before.variants.map((v) => v.file)).toEqual(['onnx/model.onnx', 'onnx/model_q4.onnx']);
    expect(before.external_data_bytes).toBe(before.variants.reduce((a, v) => a + v.external_data_bytes, 0));
    prepareModel(dir);
    const after = modelInfo(dir);
    expect(after.superposition).toBe(true);
    expect(after.present_delta).toBe(true);
    expect(before.present_delta).toBe(false);
    expect(after.fix).toBeUndefined();
    expect(after.variants.every((v) => v.prepared)).toBe(true);
  });
});
