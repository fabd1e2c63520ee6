/**
 * Every time and count limit of the Hub client (src/install/net.ts, hub.ts, download.ts, install.ts), in one place.
 *
 * The budget: whatever a server does (never answer, answer headers then go silent, drip a byte a second, redirect
 * or paginate in circles), one file ends with an error naming it within 2 minutes, retries included:
 *   one attempt is cut at ATTEMPT_WINDOW_MS at the latest unless it moved at least MIN_SPEED_BPS over the last
 *   window (connect, headers and idle limits end most stalls sooner), so 3 attempts (RETRIES = 2) take at most
 *   3 × 30 s + the backoff between them (0.5 s + 1 s) ≈ 92 s. The listing: at most MAX_PAGES pages, a page URL seen
 *   twice is refused at once, and the whole listing is cut at LISTING_MS.
 *
 * Each value can be overridden by an environment variable (used by the tests to fault a loopback Hub in
 * milliseconds; a user on a very slow link can lower MIN_SPEED_BPS): SUPERDRAFT_NET_<NAME>, e.g.
 * SUPERDRAFT_NET_IDLE_MS=5000. A value that is not a non-negative number is ignored.
 */
export interface NetLimits {
  /** TCP (and TLS) connection established. */
  connectMs: number;
  /** From the request sent to the response headers. */
  headersMs: number;
  /** Longest silence between two chunks of a response body. */
  idleMs: number;
  /** Minimum average speed over the last window (bytes per second); below it the attempt is cut. */
  minSpeedBps: number;
  /** The window over which the minimum speed is measured; also the longest an attempt can move slower than that. */
  windowMs: number;
  /** Redirects followed for one request (the Hub: resolve → storage is one). */
  maxRedirects: number;
  /** Pages of a tree listing (1,000 entries a page on the Hub: 100 pages is 100,000 files). */
  maxPages: number;
  /** The whole listing, all pages together. */
  listingMs: number;
  /** Attempts per file after the first, each resuming from the .part. */
  retries: number;
  /** Wait before retry n (1-based) is n × backoffMs. */
  backoffMs: number;
}

export const DEFAULT_LIMITS: Readonly<NetLimits> = {
  connectMs: 10_000,
  headersMs: 20_000,
  idleMs: 20_000,
  minSpeedBps: 10_000, // 10 kB/s: a 1 GB model at that speed would take a day; anything slower is a stall
  windowMs: 30_000,
  maxRedirects: 5,
  maxPages: 100,
  listingMs: 60_000,
  retries: 2,
  backoffMs: 500,
};

const ENV: Record<keyof NetLimits, string> = {
  connectMs: 'SUPERDRAFT_NET_CONNECT_MS',
  headersMs: 'SUPERDRAFT_NET_HEADERS_MS',
  idleMs: 'SUPERDRAFT_NET_IDLE_MS',
  minSpeedBps: 'SUPERDRAFT_NET_MIN_SPEED_BPS',
  windowMs: 'SUPERDRAFT_NET_WINDOW_MS',
  maxRedirects: 'SUPERDRAFT_NET_MAX_REDIRECTS',
  maxPages: 'SUPERDRAFT_NET_MAX_PAGES',
  listingMs: 'SUPERDRAFT_NET_LISTING_MS',
  retries: 'SUPERDRAFT_NET_RETRIES',
  backoffMs: 'SUPERDRAFT_NET_BACKOFF_MS',
};

/** The limits in force: the defaults, each overridden by its SUPERDRAFT_NET_* variable when that is set. */
export function netLimits(env: NodeJS.ProcessEnv = process.env): NetLimits {
  const out = { ...DEFAULT_LIMITS };
  for (const k of Object.keys(ENV) as (keyof NetLimits)[]) {
    const v = env[ENV[k]]?.trim();
    if (v && /^\d+(\.\d+)?$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** The names of the variables, for the README and --help. */
export const LIMIT_VARIABLES = ENV;
