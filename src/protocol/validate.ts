/**
 * Request validation, part of the contract: the engine checks every completion and indexFiles request with these
 * before any work (bounds from LIMITS, defaults from defaults.ts). Every problem is an EngineError('invalid_request')
 * naming the field.
 */
import { BOUNDS, DEFAULTS } from './defaults';
import { EngineError } from './errors';
import { LIMITS, STRATEGIES, type CompletionRequest, type IndexFilesParams, type StrategyName } from './index';

/**
 * A short, safe rendering of an untrusted value for an error message: never throws (deep nesting, cycles, BigInt)
 * and never longer than `max` characters.
 */
export function preview(v: unknown, max = 60): string {
  let s: string;
  if (typeof v === 'string') s = JSON.stringify(v.length > max ? v.slice(0, max) : v);
  else if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) s = String(v);
  else if (Array.isArray(v)) s = `an array of ${v.length}`;
  else if (typeof v === 'object') s = 'an object';
  else s = typeof v;
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks and normalises a request; every problem is an EngineError('invalid_request') naming the field. */
export function validateRequest(input: unknown): CompletionRequest {
  if (!isObject(input)) throw new EngineError('invalid_request', 'request must be an object');
  const bad = (msg: string): never => {
    throw new EngineError('invalid_request', msg);
  };
  const tooLarge = (name: string, n: number, limit: number): never => bad(`"${name}" is too large (${n} characters; the limit is ${limit})`);
  const str = (name: string, required: boolean, limit: number): string => {
    const v = input[name];
    if (v === undefined && !required) return '';
    if (typeof v !== 'string') return bad(`"${name}" must be a string`);
    if (v.length > limit) return tooLarge(name, v.length, limit);
    return v;
  };
  const int = (name: string, def: number, min: number, max: number): number => {
    const v = input[name] ?? def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(`"${name}" must be an integer in ${min}..${max} (got ${preview(v)})`);
    return v as number;
  };
  const numIn = (name: string, def: number, min: number, max: number): number => {
    const v = input[name] ?? def;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) bad(`"${name}" must be a number in ${min}..${max} (got ${preview(v)})`);
    return v as number;
  };
  // Sizes first: every bound is checked before any other work on the strings.
  const prefix = str('prefix', true, LIMITS.maxPrefixChars);
  const suffix = str('suffix', false, LIMITS.maxSuffixChars);
  const docPath = str('path', false, LIMITS.maxPathChars);
  const languageId = str('languageId', false, LIMITS.maxLanguageIdChars);
  const strategy = (input.strategy ?? DEFAULTS.strategy) as StrategyName;
  if (!STRATEGIES.includes(strategy)) bad(`unknown strategy ${preview(input.strategy)} (expected one of ${STRATEGIES.join(', ')})`);
  const mode = input.mode ?? DEFAULTS.mode;
  if (mode !== 'line' && mode !== 'block' && mode !== 'auto') bad(`"mode" must be line, block or auto (got ${preview(mode)})`);
  const speculative = input.speculative ?? DEFAULTS.speculative;
  if (typeof speculative !== 'boolean') bad('"speculative" must be a boolean');
  const snippets = input.snippets ?? [];
  if (!Array.isArray(snippets) || !snippets.every((s) => isObject(s) && typeof s.path === 'string' && typeof s.text === 'string')) {
    bad('"snippets" must be an array of {path, text}');
  }
  const snippetList = snippets as { path: string; text: string }[];
  if (snippetList.length > LIMITS.maxSnippets) bad(`"snippets" has too many entries (${snippetList.length}; the limit is ${LIMITS.maxSnippets})`);
  let total = prefix.length + suffix.length + docPath.length + languageId.length;
  snippetList.forEach((sn, i) => {
    if (sn.path.length > LIMITS.maxPathChars) tooLarge(`snippets[${i}].path`, sn.path.length, LIMITS.maxPathChars);
    if (sn.text.length > LIMITS.maxSnippetChars) tooLarge(`snippets[${i}].text`, sn.text.length, LIMITS.maxSnippetChars);
    total += sn.path.length + sn.text.length;
  });
  if (total > LIMITS.maxRequestChars) bad(`the request is too large (${total} characters of text in all; the limit is ${LIMITS.maxRequestChars})`);
  const seed = input.seed;
  if (seed !== undefined && (typeof seed !== 'number' || !Number.isInteger(seed))) bad('"seed" must be an integer');
  const ignoreStop = input.ignoreStop;
  if (ignoreStop !== undefined && typeof ignoreStop !== 'boolean') bad('"ignoreStop" must be a boolean');
  const copyDrafts = input.copyDrafts;
  if (copyDrafts !== undefined && typeof copyDrafts !== 'boolean') bad('"copyDrafts" must be a boolean');
  const timeBudgetMs = numIn('timeBudgetMs', 0, 0, 600_000);
  return {
    prefix,
    suffix,
    languageId: languageId || 'plaintext',
    path: docPath,
    snippets: snippets as CompletionRequest['snippets'],
    strategy,
    k: int('k', DEFAULTS.drafts, BOUNDS.k.min, BOUNDS.k.max),
    maxTokens: int('maxTokens', DEFAULTS.maxTokens, BOUNDS.maxTokens.min, BOUNDS.maxTokens.max),
    mode: mode as CompletionRequest['mode'],
    speculative: speculative as boolean,
    temperature: numIn('temperature', DEFAULTS.temperature, BOUNDS.temperature.min, BOUNDS.temperature.max),
    topP: numIn('topP', DEFAULTS.topP, BOUNDS.topP.min, BOUNDS.topP.max),
    seed: seed as number | undefined,
    ...(ignoreStop ? { ignoreStop: true } : {}),
    ...(copyDrafts === false ? { copyDrafts: false } : {}),
    ...(timeBudgetMs > 0 ? { timeBudgetMs } : {}),
  };
}

/** Checks an indexFiles request's shape and bounds; every problem is an EngineError('invalid_request') naming the field. */
export function validateIndexFiles(params: unknown): IndexFilesParams {
  const bad = (msg: string): never => {
    throw new EngineError('invalid_request', `indexFiles: ${msg}`);
  };
  if (!isObject(params)) return bad('params must be an object {files, replace}');
  const files = params.files;
  if (!Array.isArray(files)) return bad('"files" must be an array of {path, text}');
  if (files.length > LIMITS.maxIndexFiles) bad(`"files" has too many entries (${files.length}; the limit is ${LIMITS.maxIndexFiles})`);
  let total = 0;
  files.forEach((f: unknown, i) => {
    if (!isObject(f) || typeof f.path !== 'string' || typeof f.text !== 'string') return bad(`files[${i}] must be {path, text} with string values`);
    if (f.path.length > LIMITS.maxPathChars) bad(`files[${i}].path is too large (${f.path.length} characters; the limit is ${LIMITS.maxPathChars})`);
    if (f.text.length > LIMITS.maxIndexFileChars) bad(`files[${i}].text is too large (${f.text.length} characters; the limit is ${LIMITS.maxIndexFileChars})`);
    total += f.text.length;
  });
  if (total > LIMITS.maxIndexRequestChars) bad(`the request is too large (${total} characters of text in all; the limit is ${LIMITS.maxIndexRequestChars})`);
  if (params.replace !== undefined && typeof params.replace !== 'boolean') bad('"replace" must be a boolean');
  return params as unknown as IndexFilesParams;
}
