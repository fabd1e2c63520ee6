/**
 * Which candidate sites get ranked: per generator (a site's anchor), the nearest ones and, past them, the ones whose
 * line reads most like the edited line (a long file's far site of the same shape is a likelier next edit than the
 * hundredth near one). Each kept site carries its place by distance within its generator and that generator's count.
 */
import type { EditContext, Site, SiteAnchor } from './sites';
import { isBlank, tokenize } from './tokens';

/** Per generator: how many nearest sites, and how many of the others by likeness. */
export const KEEP: Record<SiteAnchor, { near: number; alike: number }> = {
  both: { near: 40, alike: 8 },
  left: { near: 12, alike: 4 },
  right: { near: 12, alike: 4 },
  lineStart: { near: 8, alike: 4 },
  lineEnd: { near: 8, alike: 4 },
};

export interface SelectedSite {
  site: Site;
  /** Place by distance among the sites of its generator (0 nearest) and that generator's count. */
  rank: number;
  count: number;
}

export function tokenSet(line: string): Set<string> {
  return new Set(tokenize(line).filter((t) => !isBlank(t)));
}

export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  let both = 0;
  for (const t of a) if (b.has(t)) both++;
  const all = a.size + b.size - both;
  return all === 0 ? 0 : both / all;
}

/** The kept sites of every generator, nearest first within each. */
export function selectSites(ctx: EditContext, sites: readonly Site[]): SelectedSite[] {
  const groups = new Map<SiteAnchor, Site[]>();
  for (const s of sites) {
    const g = groups.get(s.anchor);
    if (g) g.push(s);
    else groups.set(s.anchor, [s]);
  }
  const out: SelectedSite[] = [];
  const edited = tokenSet(ctx.newLine);
  const likeness = new Map<number, number>(); // per line: many sites share one
  const alikeOf = (site: Site): number => {
    let v = likeness.get(site.line);
    if (v === undefined) likeness.set(site.line, (v = jaccard(edited, tokenSet(site.lineText))));
    return v;
  };
  for (const [anchor, group] of groups) {
    const byDistance = [...group].sort((a, b) => Math.abs(a.line - ctx.line) - Math.abs(b.line - ctx.line) || a.offset - b.offset);
    const { near, alike } = KEEP[anchor];
    const rest = byDistance.slice(near).map((site, i) => ({ site, i: i + near, sim: alikeOf(site) }));
    const picked = rest.sort((a, b) => b.sim - a.sim || a.i - b.i).slice(0, alike).sort((a, b) => a.i - b.i);
    byDistance.slice(0, near).forEach((site, rank) => out.push({ site, rank, count: group.length }));
    for (const p of picked) out.push({ site: p.site, rank: p.i, count: group.length });
  }
  return out;
}
