/** What the serve tests share: HTTP calls on loopback, a raw socket for misbehaving clients, reading /metrics. */
import { connect, type Socket } from 'node:net';

export async function call(url: string, method: string, path: string, body?: unknown, token?: string, headers: Record<string, string> = {}, signal?: AbortSignal) {
  const r = await fetch(url + path, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    ...(signal ? { signal } : {}),
  });
  const text = await r.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, text, json };
}

/** The value of one Prometheus sample (sum over the series whose labels include `labels`), 0 when absent. */
export function sample(metricsText: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of metricsText.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) total += Number(m[4]);
  }
  return total;
}

export interface RawExchange {
  /** Everything the server sent. */
  received: string;
  /** The server closed the connection (rather than the test giving up). */
  closedByServer: boolean;
  /** Bytes the test wrote. */
  written: number;
}

/**
 * A raw TCP client: writes `head`, then `drip` one byte every `everyMs` until the server closes the connection or
 * `giveUpMs` passes.
 */
export function rawClient(port: number, head: string, opts: { drip?: string; everyMs?: number; giveUpMs: number }): Promise<RawExchange> {
  return new Promise((resolve) => {
    const sock: Socket = connect(port, '127.0.0.1');
    let received = '';
    let written = 0;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (closedByServer: boolean) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      clearTimeout(giveUp);
      sock.destroy();
      resolve({ received, closedByServer, written });
    };
    const giveUp = setTimeout(() => finish(false), opts.giveUpMs);
    sock.on('data', (d) => (received += d.toString('latin1')));
    sock.on('close', () => finish(true));
    sock.on('error', () => finish(true));
    sock.on('connect', () => {
      sock.write(head);
      written += Buffer.byteLength(head);
      if (opts.drip) {
        let i = 0;
        timer = setInterval(() => {
          if (sock.writable) {
            sock.write(opts.drip![i++ % opts.drip!.length]);
            written++;
          }
        }, opts.everyMs ?? 100);
      }
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` holds (or throws after `tries` polls). */
export async function until(check: () => Promise<boolean>, tries = 200, everyMs = 20): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await sleep(everyMs);
  }
  throw new Error('condition not reached');
}
