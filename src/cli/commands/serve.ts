/** `superdraft serve`: the engine behind an HTTP server (src/serve/) until Ctrl-C or SIGTERM. */
import * as path from 'node:path';
import { Engine, defaultModelDir } from '../../engine/engine';
import { BindRefused, SERVE_DEFAULTS, isLoopback, startServer, type ServeOptions } from '../../serve/server';
import { TokenFileError, TokenStore } from '../../serve/tokens';
import { UsageError } from '../files';
import { engineOptions, intFlag, strategyFlag, type Flags } from '../flags';
import { DEFAULTS } from '../../protocol/defaults';
import { setActiveAbort } from '../run';

/** The server's options from the flags; the bind and the tokens file are checked before any model is loaded. */
export function serveOptions(flags: Flags, modelId: string): Omit<ServeOptions, 'log'> {
  const host = (flags.host as string | undefined) ?? SERVE_DEFAULTS.host;
  if (!host) throw new UsageError('--host needs an address');
  let tokens: TokenStore | undefined;
  if (flags.tokens !== undefined) {
    try {
      tokens = TokenStore.load(String(flags.tokens));
    } catch (e) {
      if (e instanceof TokenFileError) throw new UsageError(e.message);
      throw e;
    }
  }
  if (!isLoopback(host) && !tokens) {
    throw new UsageError(`refusing to listen on ${host} without --tokens FILE: anyone who reaches that address could use the model (bind 127.0.0.1, or give a tokens file)`);
  }
  return {
    host,
    port: intFlag(flags, 'port', 0, 65535, SERVE_DEFAULTS.port),
    ...(tokens ? { tokens } : {}),
    maxConcurrent: intFlag(flags, 'max-concurrent', 1, 10_000, SERVE_DEFAULTS.maxConcurrent),
    maxBodyBytes: intFlag(flags, 'max-body-bytes', 1024, 1024 * 1024 * 1024, SERVE_DEFAULTS.maxBodyBytes),
    maxPromptChars: intFlag(flags, 'max-prompt-chars', 1, 64 * 1024 * 1024, SERVE_DEFAULTS.maxPromptChars),
    headersTimeoutMs: intFlag(flags, 'headers-timeout-ms', 100, 600_000, SERVE_DEFAULTS.headersTimeoutMs),
    bodyTimeoutMs: intFlag(flags, 'body-timeout-ms', 100, 600_000, SERVE_DEFAULTS.bodyTimeoutMs),
    strategy: strategyFlag(flags, DEFAULTS.strategy),
    modelId,
  };
}

export async function cmdServe(flags: Flags): Promise<number> {
  const engineOpts = engineOptions(flags);
  const dir = engineOpts.modelDir ? path.resolve(engineOpts.modelDir) : defaultModelDir();
  const opts = serveOptions(flags, path.basename(dir) === 'default' && !engineOpts.modelDir ? 'superdraft-embedded' : path.basename(dir));
  const cacheEntries = intFlag(flags, 'cache-entries', 1, 1024, 32);
  process.stderr.write(`superdraft serve: loading ${dir} ...\n`);
  const engine = await Engine.load({ ...engineOpts, promptCacheEntries: cacheEntries });
  const verbose = flags.verbose === true;
  let server;
  try {
    server = await startServer(engine, { ...opts, log: verbose ? (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`) : undefined });
  } catch (e) {
    await engine.dispose();
    if (e instanceof BindRefused) throw new UsageError(e.message);
    throw e;
  }
  process.stderr.write(
    `superdraft serve: ${engine.info.model} on ${engine.info.device}${engine.info.superposition ? '' : ' (no superposition input: superposed decoding unavailable)'}; ` +
      `listening on ${server.url} (${opts.tokens ? `${opts.tokens.size} token(s)` : 'loopback, no tokens'})\n`,
  );
  if (flags.json) process.stdout.write(JSON.stringify({ url: server.url, port: server.port, model: opts.modelId, device: engine.info.device }) + '\n');
  const running = server;
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      process.stderr.write(`superdraft serve: ${sig}, stopping\n`);
      resolve();
    };
    // Ctrl-C reaches the command through the CLI's active abort (main.ts), SIGTERM (systemd, containers) directly
    const ac = new AbortController();
    ac.signal.addEventListener('abort', () => stop('SIGINT'));
    setActiveAbort(ac);
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  setActiveAbort(null);
  await running.close();
  await engine.dispose();
  return 0;
}
