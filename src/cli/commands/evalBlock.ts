/**
 * `superdraft eval --mode block`: whole blocks. Each case puts the cursor where the editor stands after Enter on a
 * line that opens a block (the new line's indentation before the cursor, the rest of the file after it); `expected`
 * is the block's body. Drafts are asked for as the editor asks for ghost text with its default settings (mode
 * `auto`, which the engine resolves to a block there: src/engine/text/stop.ts), and compared whole after
 * normaliseBlock (metrics.ts: line breaks, trailing whitespace per line, trailing blank lines).
 */
import type { CompletionMode } from '../../protocol';
import { DEFAULTS } from '../../protocol/defaults';
import { indentWidth, lastLine, resolveMode } from '../../engine/text/stop';
import { UsageError } from '../files';
import { editSimilarity, firstLineOf, normaliseBlock, round } from '../metrics';
import { CaseTally, type CaseScorer, type EvalCase } from './evalCases';

/** The mode the editor sends (the `superdraft.mode` setting's default). */
export const BLOCK_REQUEST_MODE: CompletionMode = DEFAULTS.mode;

/** Refuses a case where the editor would not ask for a block (code on the cursor's line that opens none): a line case. */
export function checkBlockCases(cases: readonly EvalCase[], file: string): void {
  for (const c of cases) {
    if (resolveMode(BLOCK_REQUEST_MODE, c.prefix, c.suffix, c.language) !== 'block') {
      throw new UsageError(
        `${file}: case ${c.id} is not a block position (the cursor's line has code that opens no block, or code follows the cursor), ` +
          'so the editor would ask for the rest of the line there: score it with --mode line (the default)',
      );
    }
  }
}

/** Refuses a multi-line `expected` in line mode: only its first line could ever match. */
export function checkLineCases(cases: readonly EvalCase[], file: string): void {
  const c = cases.find((x) => /[\r\n]/.test(x.expected.replace(/\s+$/, '')));
  if (c) throw new UsageError(`${file}: case ${c.id} expects several lines, which line mode never compares: score blocks with --mode block`);
}

const lines = (block: string): string[] => (block ? block.split('\n') : []);

/** Block mode's figures: first lines, whole blocks exact and by edit similarity, and how the top draft's shape differs. */
export class BlockScores extends CaseTally implements CaseScorer {
  private firstTop1 = 0;
  private firstAnyk = 0;
  private exactTop1 = 0;
  private exactAnyk = 0;
  private simTop1 = 0;
  private simBest = 0;
  private expectedLines = 0;
  private top1Lines = 0;
  private readonly shape = { lines_fewer: 0, lines_more: 0, stopped_early: 0, stopped_late: 0, indent_only: 0, leaves_body: 0, at_max_tokens: 0 };

  constructor(k: number, private readonly maxTokens: number) {
    super(k);
  }

  add(drafts: readonly { text: string; tokens?: number }[], c: EvalCase, wallMs: number) {
    this.count(drafts, wallMs);
    const expected = normaliseBlock(c.expected);
    const blocks = drafts.map((d) => normaliseBlock(d.text));
    const top = blocks[0] ?? '';
    const firstExpected = firstLineOf(expected);
    const firsts = blocks.map(firstLineOf);
    if (blocks.length > 0 && firsts[0] === firstExpected) this.firstTop1++;
    if (firsts.some((f) => f === firstExpected)) this.firstAnyk++;
    const exact = blocks.length > 0 && top === expected;
    if (exact) this.exactTop1++;
    if (blocks.some((b) => b === expected)) this.exactAnyk++;
    const sims = blocks.map((b) => editSimilarity(b, expected));
    this.simTop1 += sims[0] ?? editSimilarity('', expected);
    this.simBest += sims.length ? Math.max(...sims) : editSimilarity('', expected);
    this.tallyShape(top, expected, indentWidth(lastLine(c.prefix)), (drafts[0]?.tokens ?? 0) >= this.maxTokens);
    const n = this.n;
    return {
      detail: { blocks, first_line_exact: blocks.length > 0 && firsts[0] === firstExpected, block_exact_top1: exact, block_edit_sim_top1: round(sims[0] ?? 0, 4) },
      progress: `first line ${(this.firstTop1 / n).toFixed(3)}  block top1 ${(this.exactTop1 / n).toFixed(3)}  any-k ${(this.exactAnyk / n).toFixed(3)}`,
    };
  }

  /**
   * How the top draft's lines differ from the expected ones: fewer or more, a right start cut short or run on, right
   * but for indentation, a line indented less than the body (`bodyIndent`, the cursor's: past the block's end), cut
   * by --max-tokens.
   */
  private tallyShape(top: string, expected: string, bodyIndent: number, atMax: boolean): void {
    const t = lines(top);
    const e = lines(expected);
    this.expectedLines += e.length;
    this.top1Lines += t.length;
    const s = this.shape;
    if (t.length < e.length) s.lines_fewer++;
    if (t.length > e.length) s.lines_more++;
    const prefixOf = (a: string[], b: string[]) => a.length < b.length && a.every((l, i) => l === b[i]);
    if (t.length > 0 && prefixOf(t, e)) s.stopped_early++;
    if (prefixOf(e, t)) s.stopped_late++;
    if (top !== expected && t.length === e.length && t.every((l, i) => l.trimStart() === e[i].trimStart())) s.indent_only++;
    if (t.slice(1).some((l) => l.trim() && indentWidth(l) < bodyIndent)) s.leaves_body++;
    if (atMax) s.at_max_tokens++;
  }

  result() {
    const n = this.n;
    const share = (x: number) => round(x / n, 4);
    return {
      first_line_exact: share(this.firstTop1),
      first_line_anyk: share(this.firstAnyk),
      block_exact_top1: share(this.exactTop1),
      block_exact_anyk: share(this.exactAnyk),
      block_edit_sim_top1: share(this.simTop1),
      block_edit_sim_best: share(this.simBest),
      ...this.timing(),
      expected_lines_mean: round(this.expectedLines / n, 3),
      top1_lines_mean: round(this.top1Lines / n, 3),
      top1_shape: Object.fromEntries(Object.entries(this.shape).map(([key, v]) => [key, share(v)])),
    };
  }

  table(): string {
    const r = this.result();
    const s = r.top1_shape;
    return (
      `  first line exact         ${r.first_line_exact} (any of k ${r.first_line_anyk})\n` +
      `  block exact top-1        ${r.block_exact_top1}\n  block exact any of k     ${r.block_exact_anyk}\n` +
      `  block edit sim top-1     ${r.block_edit_sim_top1}\n  block edit sim best      ${r.block_edit_sim_best}\n` +
      this.timingTable() +
      `  lines: expected ${r.expected_lines_mean}, top-1 ${r.top1_lines_mean} per case (top-1 fewer ${s.lines_fewer}, more ${s.lines_more})\n` +
      `  top-1 right but stopped early ${s.stopped_early}, late ${s.stopped_late}; wrong indentation only ${s.indent_only}\n` +
      `  top-1 past the block's end ${s.leaves_body}; cut by --max-tokens ${s.at_max_tokens}\n`
    );
  }
}
