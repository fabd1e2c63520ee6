import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, languageEnabled, needsRestart, parseSettings } from '../../src/extension/settings';

const from = (o: Record<string, unknown>) => (k: string) => o[k];

describe('parseSettings', () => {
  it('rejects NaN and Infinity for drafts (k) and other numbers with a message that says so', () => {
    for (const v of [NaN, Infinity, -Infinity]) {
      const r = parseSettings(from({ drafts: v, maxTokens: v, 'sampling.topP': v }));
      expect(r.settings.drafts).toBe(DEFAULT_SETTINGS.drafts);
      expect(r.problems.map((p) => p.key)).toEqual(['superdraft.drafts', 'superdraft.maxTokens', 'superdraft.sampling.topP']);
      expect(r.problems[0]!.message).toContain(`Invalid value ${String(v)} for "superdraft.drafts"`);
    }
  });
  it('gives the defaults when nothing is set', () => {
    const r = parseSettings(() => undefined);
    expect(r.problems).toEqual([]);
    expect(r.settings).toEqual(DEFAULT_SETTINGS);
  });

  it('reads every setting under its settings.json key', () => {
    const r = parseSettings(
      from({
        enable: false,
        strategy: 'beam',
        drafts: 5,
        maxTokens: 128,
        mode: 'line',
        speculative: false,
        copyDrafts: false,
        nextEdit: false,
        device: 'cpu',
        model: ' qwen2.5-coder-0.5b ',
        modelPath: '  /models/x  ',
        debounceMs: 25,
        latencyBudgetMs: 0,
        prefetch: false,
        startOnKeystroke: false,
        'sampling.temperature': 0.2,
        'sampling.topP': 1,
        'ngram.workspace': false,
        languages: ['python', '!markdown'],
        logLevel: 'debug',
        backend: 'ollama',
        endpoint: ' http://10.0.0.2:11434 ',
        remoteModel: ' qwen2.5-coder:1.5b-base ',
        remoteFim: 'qwen',
      }),
    );
    expect(r.problems).toEqual([]);
    expect(r.settings).toEqual({
      enable: false,
      strategy: 'beam',
      drafts: 5,
      maxTokens: 128,
      mode: 'line',
      speculative: false,
      copyDrafts: false,
      nextEdit: false,
      device: 'cpu',
      model: 'qwen2.5-coder-0.5b',
      modelPath: '/models/x',
      debounceMs: 25,
      latencyBudgetMs: 0,
      prefetch: false,
      startOnKeystroke: false,
      temperature: 0.2,
      topP: 1,
      workspaceNgrams: false,
      languages: ['python', '!markdown'],
      logLevel: 'debug',
      backend: 'ollama',
      endpoint: 'http://10.0.0.2:11434',
      remoteModel: 'qwen2.5-coder:1.5b-base',
      remoteFim: 'qwen',
    });
  });

  it('remote backend settings: an unknown backend, an endpoint that is not a URL and an unknown FIM family fall back', () => {
    const r = parseSettings(from({ backend: 'tgi', endpoint: 'localhost:8080', remoteFim: 'gpt' }));
    expect(r.settings).toMatchObject({ backend: 'local', endpoint: '', remoteFim: 'auto' });
    expect(r.problems.map((p) => p.key)).toEqual(['superdraft.backend', 'superdraft.endpoint', 'superdraft.remoteFim']);
    expect(r.problems[1]!.message).toMatch(/an http\(s\) URL/);
  });

  it('falls back to the default with a clear message for each invalid value', () => {
    const r = parseSettings(
      from({
        strategy: 'turbo',
        drafts: 9,
        maxTokens: 2.5,
        'sampling.topP': 0,
        'sampling.temperature': 'hot',
        device: 'tpu',
        enable: 'yes',
        languages: 'python',
        debounceMs: -1,
        prefetch: 'always',
        startOnKeystroke: 1,
      }),
    );
    expect(r.settings).toEqual(DEFAULT_SETTINGS);
    const keys = r.problems.map((p) => p.key).sort();
    expect(keys).toEqual(
      [
        'superdraft.strategy',
        'superdraft.drafts',
        'superdraft.maxTokens',
        'superdraft.sampling.topP',
        'superdraft.sampling.temperature',
        'superdraft.device',
        'superdraft.enable',
        'superdraft.languages',
        'superdraft.debounceMs',
        'superdraft.prefetch',
        'superdraft.startOnKeystroke',
      ].sort(),
    );
    const strat = r.problems.find((p) => p.key === 'superdraft.strategy')!;
    expect(strat.message).toContain('"turbo"');
    expect(strat.message).toContain('superposed, beam, sampling, greedy');
    expect(strat.message).toContain('Using the default "superposed"');
    expect(r.problems.find((p) => p.key === 'superdraft.drafts')!.message).toMatch(/integer from 1 to 8/);
  });

  it('keeps valid settings when others are invalid', () => {
    const r = parseSettings(from({ strategy: 'greedy', drafts: 0 }));
    expect(r.settings.strategy).toBe('greedy');
    expect(r.settings.drafts).toBe(DEFAULT_SETTINGS.drafts);
    expect(r.problems).toHaveLength(1);
  });
});

describe('languageEnabled / needsRestart', () => {
  it('handles "*", explicit ids and exclusions', () => {
    expect(languageEnabled(['*'], 'typescript')).toBe(true);
    expect(languageEnabled(['*', '!markdown'], 'markdown')).toBe(false);
    expect(languageEnabled(['python'], 'python')).toBe(true);
    expect(languageEnabled(['python'], 'go')).toBe(false);
  });
  it('restarts only for model or device changes', () => {
    expect(needsRestart(DEFAULT_SETTINGS, { ...DEFAULT_SETTINGS, strategy: 'beam', drafts: 5 })).toBe(false);
    expect(needsRestart(DEFAULT_SETTINGS, { ...DEFAULT_SETTINGS, device: 'cpu' })).toBe(true);
    expect(needsRestart(DEFAULT_SETTINGS, { ...DEFAULT_SETTINGS, modelPath: '/m' })).toBe(true);
    expect(needsRestart(DEFAULT_SETTINGS, { ...DEFAULT_SETTINGS, model: 'qwen2.5-coder-0.5b' })).toBe(true);
  });
  it('superdraft.model: "embedded" or an installed model name; a path or a bad name falls back to embedded with a message', () => {
    expect(DEFAULT_SETTINGS.model).toBe('embedded');
    expect(parseSettings((k) => (k === 'model' ? '' : undefined)).settings.model).toBe('embedded');
    for (const bad of ['/models/x', 'Qwen/Qwen2.5', '../up', 3]) {
      const r = parseSettings((k) => (k === 'model' ? bad : undefined));
      expect(r.settings.model).toBe('embedded');
      expect(r.problems).toEqual([{ key: 'superdraft.model', message: expect.stringMatching(/expected "embedded" or the name of an installed model/) }]);
    }
  });
});
