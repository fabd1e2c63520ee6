/** `superdraft complete`: drafts for a cursor position in a file. */
import * as path from 'node:path';
import type { CompletionRequest } from '../../protocol';
import { BOUNDS, DEFAULTS } from '../../protocol/defaults';
import { UsageError, languageOf, readTextFile, splitAt } from '../files';
import { draftFlags, engineOptions, intFlag, numFlag, strategyFlag, type Flags } from '../flags';
import { round } from '../metrics';
import { complete, loadEngine, out, printDrafts } from '../run';
import { RemoteSource, draftJson, remoteFlags } from '../remote';

/** The request's fields from the flags (the text and position come later, from the file). */
function requestFlags(flags: Flags): CompletionRequest {
  const req: CompletionRequest = {
    prefix: '',
    suffix: '',
    languageId: '',
    path: '',
    strategy: strategyFlag(flags, DEFAULTS.strategy),
    ...draftFlags(flags),
    speculative: flags['no-speculative'] !== true,
    ...(flags['no-copy'] === true ? { copyDrafts: false } : {}),
  };
  const temperature = numFlag(flags, 'temperature', BOUNDS.temperature.min, BOUNDS.temperature.max);
  const topP = numFlag(flags, 'top-p', BOUNDS.topP.min, BOUNDS.topP.max);
  const seed = intFlag(flags, 'seed', -(2 ** 31), 2 ** 31 - 1);
  const budget = intFlag(flags, 'time-budget', 0, 600_000);
  if (budget !== undefined && budget > 0) req.timeBudgetMs = budget;
  if (temperature !== undefined) req.temperature = temperature;
  if (topP !== undefined) req.topP = topP;
  if (seed !== undefined) req.seed = seed;
  return req;
}

export async function cmdComplete(flags: Flags): Promise<number> {
  const req = requestFlags(flags);
  const remote = remoteFlags(flags);
  if (!remote) engineOptions(flags); // validates device/threads/model before the file is read
  const file = flags.file as string | undefined;
  if (!file) throw new UsageError('complete needs --file F --line L --column C');
  if (flags.line === undefined) throw new UsageError('complete needs --line L (1-based)');
  if (flags.column === undefined) throw new UsageError('complete needs --column C (1-based)');
  const line = intFlag(flags, 'line', 1, Number.MAX_SAFE_INTEGER);
  const column = intFlag(flags, 'column', 1, Number.MAX_SAFE_INTEGER);
  req.languageId = (flags.language as string | undefined) ?? languageOf(file);
  req.path = path.relative(process.cwd(), path.resolve(file)) || file;
  const text = readTextFile(file);
  const { prefix, suffix } = splitAt(text, line!, column!, file);
  req.prefix = prefix;
  req.suffix = suffix;
  const at = { file, line: line!, column: column! };
  return remote ? completeRemote(flags, remote, req, at) : completeLocal(flags, req, at);
}

type At = { file: string; line: number; column: number };

/** The fields every `complete --json` answer starts with: where, in which language. */
function where({ file, line, column }: At, req: CompletionRequest): { file: string; line: number; column: number; languageId: string } {
  return { file, line, column, languageId: req.languageId };
}

/** `complete --backend …`: the drafts of a server (src/remote). */
async function completeRemote(flags: Flags, remote: NonNullable<ReturnType<typeof remoteFlags>>, req: CompletionRequest, { file, line, column }: At): Promise<number> {
  const source = new RemoteSource(remote);
  const { res, wallMs } = await complete(source, req);
  const ran = source.last!.server;
  if (flags.json) {
    out({
      ...where({ file, line, column }, req),
      backend: remote.backend,
      endpoint: source.completer.base,
      model: ran.model,
      strategy: res.strategy,
      ran: ran.ran,
      k: req.k,
      mode: req.mode,
      maxTokens: req.maxTokens,
      wallMs: round(wallMs, 1),
      drafts: res.drafts.map((d) => draftJson(d, round)),
      timing: res.timing,
    });
  } else {
    process.stdout.write(`${file}:${line}:${column} (${req.languageId}) · ${ran.ran}${ran.ran !== res.strategy ? ` (the server cannot do ${res.strategy})` : ''} k=${req.k} · mode ${req.mode}\n`);
    process.stdout.write(`${remote.backend} ${source.completer.base} · model ${ran.model}\n`);
    printDrafts(res, wallMs);
  }
  return 0;
}

/** `complete` on the local engine. */
async function completeLocal(flags: Flags, req: CompletionRequest, { file, line, column }: At): Promise<number> {
  const engine = await loadEngine(flags, false);
  try {
    const { res, wallMs } = await complete(engine, req);
    if (flags.json) {
      out({
        ...where({ file, line, column }, req),
        strategy: res.strategy,
        k: req.k,
        mode: req.mode,
        maxTokens: req.maxTokens,
        speculative: req.speculative,
        model: engine.info.model,
        device: engine.info.device,
        loadMs: round(engine.info.loadMs, 1),
        wallMs: round(wallMs, 1),
        drafts: res.drafts.map((d) => ({ text: d.text, score: round(d.score, 4), tokens: d.tokens })),
        timing: res.timing,
      });
    } else {
      process.stdout.write(`${file}:${line}:${column} (${req.languageId}) · ${res.strategy} k=${req.k} · mode ${req.mode}\n`);
      process.stdout.write(`model ${engine.info.model} on ${engine.info.device} (loaded in ${engine.info.loadMs.toFixed(0)} ms)\n`);
      printDrafts(res, wallMs);
    }
  } finally {
    await engine.dispose();
  }
  return 0;
}
