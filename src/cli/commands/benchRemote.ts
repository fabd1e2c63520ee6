/**
 * `superdraft bench --backend …`: keystroke → drafts against a server, on the bundled prompt set: each prompt is
 * completed `--repeat` times as the extension asks (the strategy, k, line mode), one request at a time; the wall time
 * of each (HTTP included) gives p50/p95, with the drafts each returned and how often fewer than k came back.
 */
import { DEFAULTS, draftCount } from '../../protocol/defaults';
import { intFlag, draftFlags, strategyFlag, type Flags } from '../flags';
import { percentile, round } from '../metrics';
import { complete, out, progress } from '../run';
import { RemoteSource } from '../remote';
import type { RemoteConfig } from '../../remote/remote';

/** A prompt of the bench set (bench.ts: loadBenchPrompts). */
export interface RemoteBenchPrompt {
  file: string;
  language: string;
  prefix: string;
  suffix: string;
}

export async function benchRemote(flags: Flags, remote: RemoteConfig, all: RemoteBenchPrompt[]): Promise<number> {
  const repeat = intFlag(flags, 'repeat', 1, 100, 2);
  const limit = intFlag(flags, 'limit', 1, 1000);
  const strategy = strategyFlag(flags, DEFAULTS.strategy);
  const { k, maxTokens, mode } = draftFlags(flags, 'line');
  let prompts = all;
  if (limit !== undefined) prompts = prompts.slice(0, limit);
  const source = new RemoteSource(remote);
  const lat: number[] = [];
  let drafts = 0;
  let fewer = 0;
  for (let r = 0; r < repeat; r++) {
    for (const p of prompts) {
      const { res, wallMs } = await complete(source, {
        prefix: p.prefix,
        suffix: p.suffix,
        languageId: p.language,
        path: `bench/${p.file}`,
        strategy,
        k,
        maxTokens,
        mode,
        speculative: false,
        ...(flags['no-copy'] === true ? { copyDrafts: false } : {}),
      });
      lat.push(wallMs);
      drafts += res.drafts.length;
      if (res.drafts.length < draftCount(strategy, k)) fewer++;
    }
    progress(`bench ${remote.backend}: round ${r + 1}/${repeat}, ${lat.length} requests`);
  }
  const result = {
    backend: remote.backend,
    endpoint: source.completer.base,
    model: source.info.model,
    strategy,
    ran: source.last?.server.ran ?? null,
    k: draftCount(strategy, k),
    max_tokens: maxTokens,
    requests: lat.length,
    latency_ms_p50: round(percentile(lat, 0.5), 1),
    latency_ms_p95: round(percentile(lat, 0.95), 1),
    drafts_per_request: round(drafts / Math.max(1, lat.length), 3),
    fewer_than_k: fewer,
  };
  if (flags.json) out(result);
  else process.stdout.write(`${result.requests} requests to ${remote.backend} ${result.endpoint} (${result.model}) · ${result.ran} k=${result.k}\n  keystroke → drafts p50/p95  ${result.latency_ms_p50} / ${result.latency_ms_p95} ms\n  drafts per request  ${result.drafts_per_request} (fewer than k: ${fewer})\n`);
  return 0;
}
