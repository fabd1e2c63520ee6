/**
 * Draft-picker webview: message types shared by the host and media/panel.js, and the HTML builder. Pure (no `vscode`
 * import) so the real HTML can be loaded in headless Chromium by the tests.
 */
import { randomBytes } from 'node:crypto';
import type { CompletionTiming, CopyOrigin, StrategyName } from '../../protocol';
import type { RemoteOrigin } from '../../protocol/remote';

export interface PanelDraft {
  rank: number;
  text: string;
  score: number;
  tokens: number;
  strategy: StrategyName;
  /** Where the draft came from: "model", "copied from line 120", "from utils.ts:45". */
  source: string;
}

/** The panel's source label of a draft; `cursorLine` is 0-based (the document the request was made in). */
export function sourceLabel(origin: CopyOrigin | undefined, cursorLine: number): string {
  if (!origin) return 'model';
  if (origin.renamed && origin.offset !== undefined) {
    // a mirrored line: "like line 12, topP → temperature"
    return `like line ${cursorLine + 1 + origin.offset}, ${origin.renamed.map(([a, b]) => `${a} → ${b}`).join(', ')}`;
  }
  if (origin.path === '') return origin.offset !== undefined ? `copied from line ${cursorLine + 1 + origin.offset}` : 'copied from this file';
  const name = origin.path.replace(/\\/g, '/').split('/').pop() || origin.path;
  return origin.line !== undefined ? `from ${name}:${origin.line}` : `from ${name}`;
}

/** A response's drafts as the panel shows them. */
export function panelDrafts(drafts: readonly { rank: number; text: string; score: number; tokens: number; strategy: StrategyName; copiedFrom?: CopyOrigin; server?: RemoteOrigin }[], cursorLine: number): PanelDraft[] {
  return drafts.map((d) => ({
    rank: d.rank,
    text: d.text,
    score: d.score,
    tokens: d.tokens,
    strategy: d.strategy,
    // a remote server's draft names the backend, its model and its time per draft
    source: d.server ? `${d.server.backend} ${d.server.model} · ${Math.round(d.server.msPerDraft)} ms/draft${d.copiedFrom ? ` · also ${sourceLabel(d.copiedFrom, cursorLine)}` : ''}` : sourceLabel(d.copiedFrom, cursorLine),
  }));
}

export interface PanelGroup {
  strategy: StrategyName;
  /** Round-trip time of the request that produced these drafts, ms. */
  ms?: number;
  timing?: CompletionTiming;
  /** True when served from the typing-as-suggested cache. */
  cached?: boolean;
  error?: string;
  drafts: PanelDraft[];
}

export interface PanelView {
  /** Increments for every new view; insert messages name it so a stale click cannot insert the wrong text. */
  id: number;
  mode: 'drafts' | 'compare';
  file: string;
  line: number; // 1-based
  column: number; // 1-based
  languageId: string;
  groups: PanelGroup[];
}

export type PanelStatus = 'idle' | 'thinking' | 'ready' | 'error' | 'disabled';

export type HostToPanel =
  | { type: 'view'; view: PanelView }
  | { type: 'status'; status: PanelStatus; message?: string }
  /** The ghost-text item currently shown in the editor (cycling). */
  | { type: 'shown'; strategy: StrategyName; rank: number };

export type PanelToHost =
  | { type: 'ready' }
  | { type: 'insert'; viewId: number; strategy: StrategyName; rank: number }
  | { type: 'close' };

export function makeNonce(): string {
  return randomBytes(18).toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 24) || 'superdraftnonce';
}

function attr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export interface PanelHtmlOptions {
  /** webview.cspSource */
  cspSource: string;
  nonce: string;
  /** webview.asWebviewUri(...) of media/panel.js, media/highlight.js, media/panel.css */
  scriptUri: string;
  highlightUri: string;
  styleUri: string;
}

/** The panel's full HTML: strict CSP, local resources only, scripts allowed by nonce. */
export function buildPanelHtml(o: PanelHtmlOptions): string {
  const csp = `default-src 'none'; style-src ${o.cspSource}; img-src ${o.cspSource}; font-src ${o.cspSource}; script-src 'nonce-${o.nonce}';`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${attr(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${attr(o.styleUri)}">
<title>Superdraft Drafts</title>
</head>
<body>
<main id="superdraft-panel" data-state="idle" data-mode="drafts" data-view-id="" data-count="0" tabindex="0" aria-label="Superdraft drafts">
  <header id="sd-header">
    <span id="sd-location" data-testid="location"></span>
    <span id="sd-status" data-testid="status" role="status" aria-live="polite"></span>
  </header>
  <div id="sd-groups" role="listbox" aria-label="Drafts"></div>
  <p id="sd-empty" data-testid="empty">Move the cursor in an editor to see drafts.</p>
  <footer id="sd-help"><kbd>↑</kbd><kbd>↓</kbd> select · <kbd>Enter</kbd> or <kbd>1</kbd>–<kbd>9</kbd> insert · click inserts · <kbd>Esc</kbd> close</footer>
</main>
<script nonce="${attr(o.nonce)}" src="${attr(o.highlightUri)}"></script>
<script nonce="${attr(o.nonce)}" src="${attr(o.scriptUri)}"></script>
</body>
</html>`;
}

/** Longest rendering of an unknown webview message that is logged. */
const MAX_LOGGED_MESSAGE_CHARS = 300;

/** A bounded description of an untrusted webview message (a 5 MB message must not become a 5 MB log line). */
export function describeMessage(m: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(m) ?? String(m);
  } catch {
    s = `(unprintable ${typeof m})`;
  }
  return s.length > MAX_LOGGED_MESSAGE_CHARS ? `${s.slice(0, MAX_LOGGED_MESSAGE_CHARS)}… (${s.length} characters)` : s;
}
