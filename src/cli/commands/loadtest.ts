/** `superdraft loadtest` (npm run loadtest): typists against a server (src/serve/loadgen.ts), one run per users × strategy. */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Engine, defaultModelDir } from '../../engine/engine';
import { formatTable, runLoad, type LoadResult } from '../../serve/loadgen';
import { startServer, SERVE_DEFAULTS, type RunningServer } from '../../serve/server';
import { UsageError } from '../files';
import { engineOptions, intFlag, type Flags } from '../flags';
import { STRATEGIES, type StrategyName } from '../../protocol';
import { out, packageRoot, progress } from '../run';

function listFlag(v: unknown, def: string): string[] {
  return String(v ?? def)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function tokenOf(file: string | undefined): string | undefined {
  if (!file) return undefined;
  const line = readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.replace(/#.*$/, '').trim())
    .find(Boolean);
  if (!line) throw new UsageError(`${file} holds no token`);
  return line.split(/\s+/).pop();
}

export async function cmdLoadtest(flags: Flags): Promise<number> {
  const users = listFlag(flags.users, '1,4,16').map((u) => {
    const n = Number(u);
    if (!Number.isInteger(n) || n < 1 || n > 256) throw new UsageError(`--users takes integers in 1..256 (got ${JSON.stringify(u)})`);
    return n;
  });
  const strategies = listFlag(flags.strategy, 'superposed,sampling');
  for (const s of strategies) if (!STRATEGIES.includes(s as StrategyName)) throw new UsageError(`unknown strategy ${JSON.stringify(s)}`);
  const k = intFlag(flags, 'k', 1, 16, 4);
  const maxTokens = intFlag(flags, 'max-tokens', 1, 1024, 24);
  const seconds = intFlag(flags, 'seconds', 1, 3600, 15);
  const keyMs = intFlag(flags, 'key-ms', 10, 5000, 120);
  const dir = path.join(packageRoot(), 'bench', 'prompts');
  const docs = readdirSync(dir)
    .filter((f) => /\.(js|py|ts)$/.test(f))
    .sort()
    .map((f) => ({ path: f, text: readFileSync(path.join(dir, f), 'utf8') }));
  let url = flags.url as string | undefined;
  let engine: Engine | undefined;
  let server: RunningServer | undefined;
  let model = url ?? '';
  if (!url) {
    const opts = engineOptions(flags);
    model = path.basename(opts.modelDir ? path.resolve(opts.modelDir) : defaultModelDir());
    progress(`loadtest: loading ${opts.modelDir ?? defaultModelDir()} and serving it on loopback ...`);
    engine = await Engine.load({ ...opts, promptCacheEntries: 32 });
    server = await startServer(engine, { ...SERVE_DEFAULTS, port: 0, maxConcurrent: 1024, strategy: 'superposed', modelId: model });
    url = server.url;
  }
  const rows: LoadResult[] = [];
  try {
    for (const strategy of strategies) {
      for (const n of users) {
        progress(`loadtest: ${n} user(s), ${strategy} k=${k}, ${seconds} s ...`);
        rows.push(await runLoad({ url, token: tokenOf(flags['token-file'] as string | undefined), users: n, strategy, k, maxTokens, durationMs: seconds * 1000, keyMs, docs }));
      }
    }
  } finally {
    await server?.close();
    await engine?.dispose();
  }
  if (flags.json) out({ model, rows });
  else process.stdout.write(formatTable(rows, model) + '\n');
  return rows.some((r) => r.errors > 0) ? 1 : 0;
}
