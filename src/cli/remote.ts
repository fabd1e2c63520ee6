/**
 * `--backend llama.cpp|ollama|openai --endpoint URL [--remote-model NAME] [--remote-fim FAMILY]`: drafts from a
 * server the user runs instead of the local engine (src/remote/). The API key comes from SUPERDRAFT_API_KEY and is
 * sent on every request, never printed.
 */
import type { CompletionRequest, CompletionResponse, Draft } from '../protocol';
import { BACKENDS, REMOTE_DEFAULTS, REMOTE_FIMS, type BackendName, type RemoteFim } from '../protocol/remote';
import { RemoteCompleter, type RemoteConfig, type RemoteResponse } from '../remote/remote';
import { UsageError } from './files';
import type { Flags } from './flags';
import { progress } from './run';

/** The remote configuration the flags ask for, or undefined for the local engine (no --backend, or local). */
export function remoteFlags(flags: Flags): RemoteConfig | undefined {
  const backend = (flags.backend as string | undefined) ?? 'local';
  if (!BACKENDS.includes(backend as BackendName)) throw new UsageError(`unknown backend ${JSON.stringify(backend)} (expected one of ${BACKENDS.join(', ')})`);
  const fim = (flags['remote-fim'] as string | undefined) ?? REMOTE_DEFAULTS.remoteFim;
  if (!REMOTE_FIMS.includes(fim as RemoteFim)) throw new UsageError(`unknown --remote-fim ${JSON.stringify(fim)} (expected one of ${REMOTE_FIMS.join(', ')})`);
  if (backend === 'local') {
    for (const f of ['endpoint', 'remote-model', 'remote-fim']) if (flags[f] !== undefined) throw new UsageError(`--${f} needs --backend llama.cpp|ollama|openai`);
    return undefined;
  }
  const endpoint = (flags.endpoint as string | undefined) ?? '';
  if (endpoint) {
    let u: URL | undefined;
    try {
      u = new URL(endpoint);
    } catch {
      u = undefined;
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) throw new UsageError(`--endpoint must be an http(s) URL (got ${JSON.stringify(endpoint)})`);
  }
  for (const f of ['model', 'variant', 'device', 'threads']) if (flags[f] !== undefined) throw new UsageError(`--${f} is for the local engine; with --backend ${backend} the server's model is --remote-model`);
  const key = process.env[REMOTE_DEFAULTS.apiKeyEnv];
  return {
    backend: backend as RemoteConfig['backend'],
    endpoint,
    model: (flags['remote-model'] as string | undefined) ?? '',
    fim: fim as RemoteFim,
    ...(key ? { apiKey: key } : {}),
    notice: (m) => progress(`[${backend}] ${m}`),
  };
}

/** The remote backend in the shape the commands use for the local engine (complete, info, dispose). */
export class RemoteSource {
  readonly completer: RemoteCompleter;
  last: RemoteResponse | undefined;
  readonly info: { model: string; device: string; loadMs: number };

  constructor(cfg: RemoteConfig) {
    this.completer = new RemoteCompleter(cfg);
    this.info = { model: cfg.model || '(the server\'s)', device: `${cfg.backend} ${this.completer.base}`, loadMs: 0 };
  }

  async complete(req: CompletionRequest, signal?: AbortSignal): Promise<CompletionResponse> {
    const res = await this.completer.complete(req, signal);
    this.last = res;
    this.info.model = res.server.model;
    return res;
  }

  async dispose(): Promise<void> {}
}

/** A draft for --json: its text, where it came from (the server, with its model and time per draft, or the code). */
export function draftJson(d: Draft, round: (x: number, digits: number) => number): Record<string, unknown> {
  return {
    text: d.text,
    score: round(d.score, 4),
    tokens: d.tokens,
    origin: d.server ? 'server' : d.copiedFrom ? 'copy' : 'model',
    ...(d.server ? { server: { ...d.server, msPerDraft: round(d.server.msPerDraft, 1) } } : {}),
    ...(d.copiedFrom ? { copiedFrom: d.copiedFrom } : {}),
  };
}
