/**
 * JSON-RPC contract between the extension host (client) and the inference process (server).
 * Types and method names only: no behaviour lives here.
 */

import type { RemoteOrigin } from './remote';

export type StrategyName = 'superposed' | 'beam' | 'sampling' | 'greedy';
export const STRATEGIES: readonly StrategyName[] = ['superposed', 'beam', 'sampling', 'greedy'];
export type CompletionMode = 'line' | 'block' | 'auto';
export type DeviceName = 'auto' | 'cpu' | 'cuda' | 'dml' | 'coreml' | 'webgpu';
export const DEVICES: readonly DeviceName[] = ['auto', 'cpu', 'cuda', 'dml', 'coreml', 'webgpu'];

/**
 * Input bounds. The server rejects a request past any of them with -32602 (InvalidParams) and a message naming the
 * field and the limit, before any tokenizing; the extension trims what it sends to stay within them (fitRequest).
 * Lengths are in UTF-16 characters (JavaScript string length).
 */
export const LIMITS = Object.freeze({
  /** CompletionRequest.path and ContextSnippet.path. */
  maxPathChars: 4096,
  maxLanguageIdChars: 256,
  /** Text before the cursor (a whole large document may be sent; the engine only tokenizes the window it uses). */
  maxPrefixChars: 12 * 1024 * 1024,
  /** Text after the cursor (likewise windowed). */
  maxSuffixChars: 12 * 1024 * 1024,
  maxSnippets: 32,
  /** Text of one snippet. */
  maxSnippetChars: 65_536,
  /** All strings of one completion request together (prefix, suffix, path, snippets). */
  maxRequestChars: 26 * 1024 * 1024,
  /** Files in one indexFiles request. */
  maxIndexFiles: 1000,
  /** Text of one indexed file. */
  maxIndexFileChars: 2_097_152,
  /** All texts of one indexFiles request together. */
  maxIndexRequestChars: 8_388_608,
  /** Bytes of one framed message on stdio (Content-Length); a larger frame is refused and skipped. */
  maxMessageBytes: 96 * 1024 * 1024,
});

/** A snippet of another file offered as extra context (joined with the model's file separator). */
export interface ContextSnippet {
  path: string;
  text: string;
}

export interface CompletionRequest {
  /** Text of the document before the cursor (already trimmed to a character budget by the client). */
  prefix: string;
  /** Text of the document after the cursor. */
  suffix: string;
  /** VS Code language id, e.g. "typescript". */
  languageId: string;
  /** Workspace-relative or absolute path of the document (for the prompt header and n-grams). */
  path: string;
  snippets?: ContextSnippet[];
  strategy: StrategyName;
  /** Number of drafts, 1..16. */
  k: number;
  /** 1..1024. */
  maxTokens: number;
  mode: CompletionMode;
  speculative: boolean;
  temperature?: number;
  topP?: number;
  seed?: number;
  /**
   * Benchmarks only: generate exactly maxTokens tokens without stop rules or post-processing (an end token does not
   * end a draft either), so strategies are timed on drafts of one length.
   */
  ignoreStop?: boolean;
  /**
   * Drafts copied from the code (default true): continuations of earlier occurrences of the text before the cursor, in
   * the document, the snippets and the indexed workspace, ranked with the strategy's own drafts by the model.
   * Multi-draft strategies only (greedy stays the model's own chain).
   */
  copyDrafts?: boolean;
  /**
   * Latency budget for interactive requests, ms of engine time (0 or omitted: none). Once it is spent, a draft that
   * holds a complete line with content ends there (a block is cut back to its last complete line); a draft still in
   * its first line ends at its last complete word (once it has one). The response's timing counts the cuts
   * (budgetCuts): the extension then asks for the whole drafts in the background and shows them when they come.
   */
  timeBudgetMs?: number;
}

/** Where a draft copied from the code came from. */
export interface CopyOrigin {
  /** '' = the document being edited; otherwise the file's path (as the workspace index or the snippet named it). */
  path: string;
  /** The document being edited: lines from the cursor's line to the copied text (negative: above). */
  offset?: number;
  /** Another file: 1-based line of the copied text (absent when unknown, e.g. a snippet). */
  line?: number;
  /** Characters of the text before the cursor that matched before the copied text. */
  matchLength: number;
  /** The copied line mirrors the cursor's line with names renamed: [its name, the name used here]. */
  renamed?: [string, string][];
}

export interface Draft {
  text: string;
  /**
   * Higher is better: the ranking's log-odds that the draft's first line is the line being written (src/engine/rank.ts:
   * the model's mean log-probability per token after verification where applicable, the draft's length, for a copied
   * draft the context it matched, and whether it closes the brackets its line opened).
   */
  score: number;
  tokens: number;
  strategy: StrategyName;
  /** Present when the draft was copied from the code rather than generated. */
  copiedFrom?: CopyOrigin;
  /** Present when a remote server generated the draft (src/remote/). */
  server?: RemoteOrigin;
}

export interface CompletionTiming {
  /** Total time inside the engine, ms. */
  totalMs: number;
  /** Prompt prefill time, ms. */
  prefillMs: number;
  /** Prompt tokens actually computed (after KV prefix reuse). */
  prefillTokens: number;
  /** Prompt tokens served from the KV cache. */
  reusedTokens: number;
  /** Model forward passes. */
  forwards: number;
  /** Decode tokens accepted from speculative drafts. */
  acceptedSpeculative: number;
  /**
   * Characters typed since an earlier request whose prompt this one reused (absent or 0: the prompt was built for
   * this request): they were generated as the start of the completion, not prefilled.
   */
  typedChars?: number;
  /** Drafts the time budget ended at a line boundary (absent or 0: none). */
  budgetCuts?: number;
  /** Looking up drafts to copy from the code, ms (absent when off). */
  copyMs?: number;
  /** Copy candidates found (before de-duplication against the model's drafts). */
  copyCandidates?: number;
  /** Ranking: cleaning, de-duplication and the verification forward, ms. */
  rankMs?: number;
}

export interface CompletionResponse {
  drafts: Draft[];
  strategy: StrategyName;
  timing: CompletionTiming;
}

export interface InitializeParams {
  /** Model directory; empty string = the embedded model. */
  modelPath: string;
  device: DeviceName;
  threads?: number;
  workspaceNgrams: boolean;
}

export interface InitializeResult {
  model: string;
  device: string;
  providersTried: { name: string; ok: boolean; error?: string }[];
  /** Why this device: "asked for in the settings", or what `auto` found (a GPU provider, or why none is usable). */
  deviceReason?: string;
  /** Set when the GPU asked for failed and the process runs on the CPU instead: the failure. */
  gpuFailure?: string;
  loadMs: number;
  superposition: boolean;
}

export interface NgramFile {
  path: string;
  text: string;
}

export interface IndexFilesParams {
  files: NgramFile[];
  /** Replace what was indexed for these paths (on save) rather than add. */
  replace: boolean;
}

export interface DiagnosticsResult {
  model: string;
  device: string;
  providersTried: { name: string; ok: boolean; error?: string }[];
  deviceReason?: string;
  gpuFailure?: string;
  cache: { hits: number; misses: number; reusedTokens: number; computedTokens: number; entries: number };
  ngrams: { staticLoaded: boolean; workspaceFiles: number; workspaceTokens: number };
  rssBytes: number;
  requests: number;
  pid: number;
}

export interface LogParams {
  level: 'error' | 'warn' | 'info' | 'debug';
  message: string;
}

export interface ProgressParams {
  /** e.g. "load", "index". */
  kind: string;
  message: string;
  /** 0..1, or undefined when unknown. */
  fraction?: number;
  done: boolean;
}

/** Method names. Requests are cancellable with the standard $/cancelRequest. */
export const Methods = {
  initialize: 'superdraft/initialize',
  complete: 'superdraft/complete',
  indexFiles: 'superdraft/indexFiles',
  diagnostics: 'superdraft/diagnostics',
  /** Liveness check: answered at once with `null` by a responsive server (no engine needed). */
  ping: 'superdraft/ping',
  shutdown: 'superdraft/shutdown',
  /** Server → client notifications. */
  log: 'superdraft/log',
  progress: 'superdraft/progress',
} as const;

/** JSON-RPC error codes the server uses beyond the standard ones. */
export const ErrorCodes = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  ModelLoadFailed: -32001,
  NotInitialized: -32002,
  Unsupported: -32003,
  RequestCancelled: -32800,
} as const;
