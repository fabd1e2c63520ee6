/**
 * `superdraft.*` settings: schema, defaults and validation. Pure (no `vscode` import) so it is unit-testable;
 * the extension passes a getter over `workspace.getConfiguration('superdraft')`.
 */
import { DEVICES, STRATEGIES, type CompletionMode, type DeviceName, type StrategyName } from '../protocol';
import { DEFAULTS } from '../protocol/defaults';
import { BACKENDS, REMOTE_DEFAULTS, REMOTE_FIMS, type BackendName, type RemoteFim } from '../protocol/remote';

export type LogLevel = 'off' | 'error' | 'warn' | 'info' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['off', 'error', 'warn', 'info', 'debug'];
export const MODES: readonly CompletionMode[] = ['line', 'block', 'auto'];

export interface Settings {
  enable: boolean;
  strategy: StrategyName;
  drafts: number;
  maxTokens: number;
  mode: CompletionMode;
  speculative: boolean;
  /** Offer drafts copied from the code (document, open files, workspace), ranked with the model's. */
  copyDrafts: boolean;
  /** After an edit, draft the next edits (the same change at other sites): shown as a decoration, Tab jumps and accepts. */
  nextEdit: boolean;
  device: DeviceName;
  /** "embedded", or the name of a model installed with "Superdraft: Install Model…". */
  model: string;
  modelPath: string;
  debounceMs: number;
  /** Engine time (ms) after which ghost-text drafts end at their last complete line or word; 0 = no budget. */
  latencyBudgetMs: number;
  /** After showing drafts at the end of a line, compute the next completion as if draft 1 were accepted. */
  prefetch: boolean;
  /** Start computing drafts on each keystroke, while VS Code waits before it asks the provider. */
  startOnKeystroke: boolean;
  temperature: number;
  topP: number;
  workspaceNgrams: boolean;
  /** Language ids; "*" = all; "!id" excludes id. */
  languages: string[];
  logLevel: LogLevel;
  /** Where drafts come from: the local inference process, or a server the user runs (src/remote/). */
  backend: BackendName;
  /** The server's base URL; empty = the backend's usual local address. */
  endpoint: string;
  /** The server's model name. */
  remoteModel: string;
  /** FIM tokens of a client-built prompt: auto (from the model name) or a family. */
  remoteFim: RemoteFim;
}

export const DEFAULT_SETTINGS: Readonly<Settings> = Object.freeze({
  enable: true,
  strategy: DEFAULTS.strategy,
  drafts: DEFAULTS.drafts,
  maxTokens: DEFAULTS.maxTokens,
  mode: DEFAULTS.mode,
  speculative: DEFAULTS.speculative,
  copyDrafts: DEFAULTS.copyDrafts,
  nextEdit: DEFAULTS.nextEdit,
  device: DEFAULTS.device,
  model: 'embedded',
  modelPath: '',
  debounceMs: 0,
  latencyBudgetMs: DEFAULTS.latencyBudgetMs,
  prefetch: true,
  startOnKeystroke: true,
  temperature: DEFAULTS.temperature,
  topP: DEFAULTS.topP,
  workspaceNgrams: true,
  languages: ['*'],
  logLevel: 'info',
  backend: REMOTE_DEFAULTS.backend,
  endpoint: '',
  remoteModel: REMOTE_DEFAULTS.remoteModel,
  remoteFim: REMOTE_DEFAULTS.remoteFim,
} as Settings);

/** Setting key (as written in settings.json, without the `superdraft.` section) for each field. */
export const SETTING_KEYS: Readonly<Record<keyof Settings, string>> = {
  enable: 'enable',
  strategy: 'strategy',
  drafts: 'drafts',
  maxTokens: 'maxTokens',
  mode: 'mode',
  speculative: 'speculative',
  copyDrafts: 'copyDrafts',
  nextEdit: 'nextEdit',
  device: 'device',
  model: 'model',
  modelPath: 'modelPath',
  debounceMs: 'debounceMs',
  latencyBudgetMs: 'latencyBudgetMs',
  prefetch: 'prefetch',
  startOnKeystroke: 'startOnKeystroke',
  temperature: 'sampling.temperature',
  topP: 'sampling.topP',
  workspaceNgrams: 'ngram.workspace',
  languages: 'languages',
  logLevel: 'logLevel',
  backend: 'backend',
  endpoint: 'endpoint',
  remoteModel: 'remoteModel',
  remoteFim: 'remoteFim',
};

export interface SettingProblem {
  key: string;
  message: string;
}

export interface ParsedSettings {
  settings: Settings;
  problems: SettingProblem[];
}

function describe(v: unknown): string {
  // NaN and ±Infinity are shown as such (JSON would print null), and a huge value is cut.
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

/**
 * Reads every setting through `get` (undefined = not set), validates it and falls back to the default with a
 * clear message for each invalid value. Never throws.
 */
export function parseSettings(get: (key: string) => unknown): ParsedSettings {
  const problems: SettingProblem[] = [];
  const out = { ...DEFAULT_SETTINGS, languages: [...DEFAULT_SETTINGS.languages] } as Settings;
  const bad = (field: keyof Settings, value: unknown, expected: string) => {
    const key = `superdraft.${SETTING_KEYS[field]}`;
    problems.push({
      key,
      message: `Invalid value ${describe(value)} for "${key}": expected ${expected}. Using the default ${describe(DEFAULT_SETTINGS[field])}.`,
    });
  };
  const read = (field: keyof Settings) => get(SETTING_KEYS[field]);

  const bool = (field: 'enable' | 'speculative' | 'copyDrafts' | 'nextEdit' | 'workspaceNgrams' | 'prefetch' | 'startOnKeystroke') => {
    const v = read(field);
    if (v === undefined || v === null) return;
    if (typeof v === 'boolean') out[field] = v;
    else bad(field, v, 'true or false');
  };
  const oneOf = <T extends string>(field: 'strategy' | 'mode' | 'device' | 'logLevel' | 'backend' | 'remoteFim', allowed: readonly T[]) => {
    const v = read(field);
    if (v === undefined || v === null) return;
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) (out as unknown as Record<string, unknown>)[field] = v;
    else bad(field, v, `one of ${allowed.join(', ')}`);
  };
  const num = (field: 'drafts' | 'maxTokens' | 'debounceMs' | 'latencyBudgetMs' | 'temperature' | 'topP', min: number, max: number, integer: boolean, minExclusive = false) => {
    const v = read(field);
    if (v === undefined || v === null) return;
    const ok =
      typeof v === 'number' &&
      Number.isFinite(v) &&
      (integer ? Number.isInteger(v) : true) &&
      (minExclusive ? v > min : v >= min) &&
      v <= max;
    if (ok) out[field] = v as number;
    else bad(field, v, `${integer ? 'an integer' : 'a number'} ${minExclusive ? 'greater than' : 'from'} ${min}${minExclusive ? ' and at most' : ' to'} ${max}`);
  };
  /** A string setting: `accept` gives the value to keep (trimmed) or undefined when it is not one. */
  const str = (field: 'model' | 'modelPath' | 'endpoint' | 'remoteModel', accept: (v: string) => string | undefined, expected: string) => {
    const v = read(field);
    if (v === undefined || v === null) return;
    const kept = typeof v === 'string' ? accept(v.trim()) : undefined;
    if (kept !== undefined) out[field] = kept;
    else bad(field, v, expected);
  };

  bool('enable');
  oneOf('strategy', STRATEGIES);
  num('drafts', 1, 8, true);
  num('maxTokens', 1, 1024, true);
  oneOf('mode', MODES);
  bool('speculative');
  bool('copyDrafts');
  bool('nextEdit');
  oneOf('device', DEVICES);
  str('model', (t) => (t === '' ? 'embedded' : /^[a-z0-9][a-z0-9._-]{0,63}$/.test(t) ? t : undefined), '"embedded" or the name of an installed model (Superdraft: Manage Models…)');
  str('modelPath', (t) => t, 'a path string (empty = the embedded model)');
  num('debounceMs', 0, 5000, true);
  num('latencyBudgetMs', 0, 10_000, true);
  bool('prefetch');
  bool('startOnKeystroke');
  num('temperature', 0, 2, false);
  num('topP', 0, 1, false, true);
  bool('workspaceNgrams');
  {
    const v = read('languages');
    if (v !== undefined && v !== null) {
      if (Array.isArray(v) && v.every((x) => typeof x === 'string' && x.trim().length > 0)) out.languages = v.map((x: string) => x.trim());
      else bad('languages', v, 'an array of language ids ("*" = all, "!id" excludes one)');
    }
  }
  oneOf('logLevel', LOG_LEVELS);
  oneOf('backend', BACKENDS);
  str('endpoint', (t) => (t === '' || /^https?:\/\/[^\s/]+/i.test(t) ? t : undefined), 'an http(s) URL such as http://127.0.0.1:8080 (empty = the backend\'s usual local address)');
  str('remoteModel', (t) => t, "the server's model name");
  oneOf('remoteFim', REMOTE_FIMS);
  return { settings: out, problems };
}

/** True when completions are enabled for `languageId` under the `languages` setting. */
export function languageEnabled(languages: readonly string[], languageId: string): boolean {
  if (languages.includes(`!${languageId}`)) return false;
  return languages.includes('*') || languages.includes(languageId);
}

/** Settings whose change requires restarting the inference process (with the local backend). */
export function needsRestart(a: Settings, b: Settings): boolean {
  return a.model !== b.model || a.modelPath !== b.modelPath || a.device !== b.device;
}

/** Settings that make a new remote backend (the server, its model, its FIM family). */
export function remoteChanged(a: Settings, b: Settings): boolean {
  return a.backend !== b.backend || a.endpoint !== b.endpoint || a.remoteModel !== b.remoteModel || a.remoteFim !== b.remoteFim;
}
