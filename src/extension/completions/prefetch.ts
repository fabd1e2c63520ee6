/**
 * Prefetch (as Copilot's speculative requests do): with the cursor at the end of a line, the first draft is
 * what the user most likely accepts or types next, so compute the completion that follows it now, in the
 * background, into the prefix cache. Accepting or typing the draft then shows the next drafts with no wait.
 * Runs only while nothing else is asked of the engine: any foreground request cancels it (the pipeline's in-flight
 * registry does), and so does an edit other than typing the draft. Also scheduled for drafts served from the cache
 * (typed-as-suggested), where the pipeline skips it when that target is already cached or being computed.
 * The rest of cut drafts: when the latency budget cut the drafts shown (a line at its last complete word, a block at
 * its last complete line), the whole drafts are computed next, in the background, and shown in their place once
 * they come, unless the user typed or moved meanwhile (then the next request covers it).
 * The VS Code event side of the pipeline (it watches the editor, so it imports `vscode`).
 */
import * as vscode from 'vscode';
import { docInput } from './documents';
import type { SettingsStore } from '../settingsStore';
import type { Ask, CompletionPipeline, Placed } from './pipeline';

/** The prefetch waits this long so that the editor renders the drafts just returned before the engine is busy again. */
const PREFETCH_DELAY_MS = 100;
/** The rest of cut drafts waits a little: typing on at 5 characters a second (a keystroke every 200 ms, the cut drafts shown ~150 ms after one) cancels it before it starts, so it never delays the next keystroke's request by a forward. */
const REST_DELAY_MS = 75;

export class Prefetcher implements vscode.Disposable {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private restTimer: ReturnType<typeof setTimeout> | undefined;
  /** The document version whose whole drafts are pending (a prefetch of its cut drafts waits for them). */
  private rest: { uri: string; version: number } | undefined;

  constructor(
    private readonly pipeline: CompletionPipeline,
    private readonly settings: SettingsStore,
    private readonly log: { debug(message: string): void } = { debug: () => undefined },
  ) {}

  schedule(doc: vscode.TextDocument, pos: vscode.Position, res: Placed): void {
    if (!this.settings.current.prefetch || res.lineSuffix.trim() !== '') return;
    if (this.rest && this.rest.uri === doc.uri.toString() && this.rest.version === doc.version) return;
    const draft = res.drafts[0]?.text;
    if (!draft || !draft.trim()) return;
    // What accepting it inserts: VS Code writes line breaks in the document's own form.
    const first = draft.replace(/\r?\n/g, doc.eol === vscode.EndOfLine.CRLF ? '\r\n' : '\n');
    const version = doc.version;
    const uri = doc.uri.toString();
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // Typed or moved since, or drafts for the document are being computed: the next request covers it.
      if (!stillAt(doc, version, pos) || this.pipeline.inFlight.busy(uri)) return;
      this.run(doc, pos, res.offset, first);
    }, PREFETCH_DELAY_MS);
  }

  /** The whole drafts at `pos`, whose shown drafts the time budget cut: computed, then shown if nothing moved. */
  scheduleRest(doc: vscode.TextDocument, pos: vscode.Position): void {
    const version = doc.version;
    const uri = doc.uri.toString();
    const unmoved = () => stillAt(doc, version, pos) && vscode.window.activeTextEditor!.selection.isEmpty;
    if (this.restTimer) clearTimeout(this.restTimer);
    const rest = (this.rest = { uri, version });
    const done = () => {
      if (this.rest === rest) this.rest = undefined;
    };
    this.restTimer = setTimeout(() => {
      this.restTimer = undefined;
      const moved = !unmoved();
      if (moved || this.pipeline.inFlight.busy(uri)) {
        this.log.debug(`rest: not asked (${moved ? 'typed or moved' : 'drafts for the document are being computed'})`);
        return done();
      }
      // any edit of the document makes them stale
      void this.background(doc, pos, { kind: 'rest', automatic: true }, () => true).then((res) => {
        done();
        // Now in the cache at this position: VS Code asks again and gets them from there.
        if (res && unmoved()) void vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
        else this.log.debug(`rest: not shown (${!res ? 'no drafts' : 'typed or moved'})`);
      });
    }, REST_DELAY_MS);
  }

  private run(doc: vscode.TextDocument, pos: vscode.Position, offset: number, first: string): void {
    // Typing the prefetched draft (insertions at the cursor that spell it) keeps it useful; any other edit
    // makes it stale.
    let typed = '';
    const stale = (c: vscode.TextDocumentContentChangeEvent): boolean => {
      if (c.rangeLength === 0 && c.rangeOffset === offset + typed.length && first.startsWith(typed + c.text)) {
        typed += c.text;
        return false;
      }
      return true;
    };
    void this.background(doc, pos, { kind: 'prefetch', insert: { start: offset, text: first } }, stale);
  }

  /**
   * Asks the pipeline for drafts at `pos` in the background, cancelled by an edit of the document that `stale` says
   * makes them useless (every change of an edit is shown to it, in order). Undefined when cancelled or failed.
   */
  private background(doc: vscode.TextDocument, pos: vscode.Position, ask: Ask, stale: (c: vscode.TextDocumentContentChangeEvent) => boolean): Promise<Placed | undefined> {
    const cts = new vscode.CancellationTokenSource();
    const sub = vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.document !== doc) return;
      for (const c of e.contentChanges) if (stale(c)) cts.cancel();
    });
    return this.pipeline
      .draftsAt(docInput(doc, pos), ask, cts.token)
      .then((res) => (cts.token.isCancellationRequested ? undefined : res))
      .catch(() => undefined)
      .finally(() => {
        sub.dispose();
        cts.dispose();
      });
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.restTimer) clearTimeout(this.restTimer);
    this.pipeline.inFlight.cancelBackground();
  }
}

/** The editor still shows `doc` at `version` with its cursor at `pos` (nothing typed or moved since). */
function stillAt(doc: vscode.TextDocument, version: number, pos: vscode.Position): boolean {
  const ed = vscode.window.activeTextEditor;
  return !doc.isClosed && doc.version === version && ed !== undefined && ed.document === doc && ed.selection.active.isEqual(pos);
}
