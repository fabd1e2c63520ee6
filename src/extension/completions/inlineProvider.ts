/**
 * The inline completion provider: a thin VS Code adapter over the request pipeline. It turns drafts into ghost-text
 * items, remembers the list shown (for cycling and the draft picker), schedules the prefetch and publishes
 * `onDraftsShown` for the panel.
 */
import * as vscode from 'vscode';
import { CycleTracker, fitToLineSuffix, type RankedDraft } from './drafts';
import { docInput, eligible } from './documents';
import { Emitter } from '../emitter';
import type { Logger } from '../logger';
import type { CompletionPipeline, Result, ResultSource } from './pipeline';
import type { Prefetcher } from './prefetch';
import type { SettingsStore } from '../settingsStore';
import { Commands } from '../ui/commandIds';

interface ShownList {
  uri: string;
  version: number;
  offset: number;
  signature: string;
  result: Result;
  listId: number;
}

export interface DraftsShown {
  doc: vscode.TextDocument;
  pos: vscode.Position;
  result: Result;
  /** Another list than the one shown before (the panel highlights its first draft). */
  newList: boolean;
}

export class InlineProvider {
  readonly cycle = new CycleTracker();
  /** Ghost-text drafts shown: the panel shows the same list. */
  readonly onDraftsShown = new Emitter<DraftsShown>();
  calls = 0;
  private shown: ShownList | undefined;

  constructor(
    private readonly pipeline: CompletionPipeline,
    private readonly settings: SettingsStore,
    private readonly logger: Logger,
    private readonly prefetch: Prefetcher,
  ) {}

  /** The drafts shown at this document version and offset, if any. */
  shownAt(doc: vscode.TextDocument, offset: number): Result | undefined {
    const s = this.shown;
    return s && s.uri === doc.uri.toString() && s.version === doc.version && s.offset === offset ? s.result : undefined;
  }

  /** Shows the next or previous ghost-text draft; returns its index and the draft. */
  async cycleShown(dir: 1 | -1): Promise<{ index: number; draft: RankedDraft | undefined }> {
    await vscode.commands.executeCommand(dir > 0 ? 'editor.action.inlineSuggest.showNext' : 'editor.action.inlineSuggest.showPrevious');
    const index = dir > 0 ? this.cycle.next() : this.cycle.previous();
    return { index, draft: this.shown?.result.drafts[index] };
  }

  forget(uri: string): void {
    if (this.shown?.uri === uri) this.shown = undefined;
  }

  /** The provider with one debug line per call: how long VS Code waited on us, and for what. */
  async provideTimed(
    doc: vscode.TextDocument,
    pos: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionList | undefined> {
    const t0 = performance.now();
    const p = this.pipeline;
    p.lastHostMs = NaN;
    const { list, source } = await this.provide(doc, pos, context, token);
    if (this.logger.enabled('debug')) {
      const how = token.isCancellationRequested ? 'cancelled' : list ? `${list.items.length} items` : 'no items';
      const src = source === 'cache' ? ', from cache' : source === 'joined' ? ', joined the request started on the keystroke' : '';
      const kind = context.triggerKind === vscode.InlineCompletionTriggerKind.Automatic ? 'automatic' : 'invoked';
      const host = Number.isNaN(p.lastHostMs) ? '' : `, host ${p.lastHostMs.toFixed(2)} ms`;
      this.logger.debug(`inline ${kind} ${pos.line + 1}:${pos.character + 1} v${doc.version}: ${how} in ${(performance.now() - t0).toFixed(1)} ms${src}${host}${context.selectedCompletionInfo ? ', suggest widget' : ''}`);
    }
    return list;
  }

  async provideInlineCompletionItems(
    doc: vscode.TextDocument,
    pos: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionList | undefined> {
    return (await this.provide(doc, pos, context, token)).list;
  }

  /** The ghost-text items at `pos`, and where their drafts came from. */
  private async provide(
    doc: vscode.TextDocument,
    pos: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<{ list: vscode.InlineCompletionList | undefined; source?: ResultSource }> {
    const none = { list: undefined };
    if (!eligible(doc, this.settings.current)) return none;
    this.calls++;
    const sel = context.selectedCompletionInfo;
    let insert: { start: number; text: string } | undefined;
    if (sel) {
      // Suggest widget open: complete as if the selected item were accepted, and only offer items extending it.
      if (sel.range.end.line !== pos.line || sel.range.start.line !== pos.line) return none;
      insert = { start: doc.offsetAt(sel.range.start), text: sel.text };
    }
    const automatic = context.triggerKind === vscode.InlineCompletionTriggerKind.Automatic;
    const uri = doc.uri.toString();
    let res;
    try {
      res = await this.pipeline.draftsAt(docInput(doc, pos), { kind: 'provider', insert, automatic }, token);
    } catch {
      return none;
    }
    if (!res || token.isCancellationRequested) return none;
    const listSig = res.drafts.map((d) => d.text).join('\u0000');
    const same = this.shown && this.shown.uri === uri && this.shown.signature === listSig;
    const listId = same ? this.shown!.listId : this.cycle.reset(res.drafts.length);
    const items: vscode.InlineCompletionItem[] = [];
    for (const d of res.drafts) {
      const command: vscode.Command = { command: Commands.accepted, title: 'Superdraft: draft accepted', arguments: [{ listId, rank: d.rank, strategy: d.strategy }] };
      if (sel) {
        items.push(new vscode.InlineCompletionItem(sel.text + d.text, sel.range, command));
      } else {
        const fit = fitToLineSuffix(d.text, res.lineSuffix);
        if (fit.text) items.push(new vscode.InlineCompletionItem(fit.text, new vscode.Range(pos, pos.translate(0, fit.replaceChars)), command));
      }
    }
    if (!items.length) return none;
    if (!sel && res.source !== 'cache' && (res.timing?.budgetCuts ?? 0) > 0) this.prefetch.scheduleRest(doc, pos);
    // the rest of cut drafts comes back through VS Code asking again (invoked), from the cache
    else if (!sel && (automatic || res.source === 'cache')) this.prefetch.schedule(doc, pos, res);
    this.shown = { uri, version: doc.version, offset: res.offset, signature: listSig, result: res, listId };
    this.onDraftsShown.fire({ doc, pos, result: res, newList: !same });
    return { list: new vscode.InlineCompletionList(items), source: res.source };
  }
}
