/** Metrics for `superdraft eval` and `bench`. */


export function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  if (!a.length) return b.length;
  if (!b.length) return a.length;
  let prev = new Array<number>(b.length + 1);
  let cur = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    const ca = a.charCodeAt(i - 1);
    for (let j = 1; j <= b.length; j++) {
      const cost = ca === b.charCodeAt(j - 1) ? 0 : 1;
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length];
}

export function editSimilarity(a: string, b: string): number {
  const m = Math.max(a.length, b.length);
  return m === 0 ? 1 : 1 - levenshtein(a, b) / m;
}

/** A draft's first line with trailing whitespace trimmed (what line-completion metrics compare). */
export function firstLineOf(text: string): string {
  const nl = text.indexOf('\n');
  return (nl < 0 ? text : text.slice(0, nl)).trimEnd();
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  // nearest-rank on the sorted sample, interpolated
  const pos = (s.length - 1) * p;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export const round = (x: number, d = 3): number => {
  const f = 10 ** d;
  return Math.round(x * f) / f;
};


/**
 * A block as `eval --mode block` compares it: line breaks as `\n` (`\r\n` and lone `\r` too), each line's trailing
 * whitespace removed, and trailing blank lines removed. Nothing else: indentation, tabs against spaces, leading and
 * inner blank lines all count.
 */
export function normaliseBlock(text: string): string {
  return text
    .split(/\r\n|\r|\n/)
    .map((l) => l.trimEnd())
    .join('\n')
    .replace(/\n+$/, '');
}
