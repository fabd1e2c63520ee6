/** Requests trimmed to the contract's bounds, by whoever sends them (the extension, the CLI). */
import { LIMITS, type CompletionRequest } from './index';

/**
 * The request trimmed to the protocol's bounds (LIMITS), so the server never rejects it for size: the end of the
 * prefix and of paths is kept, the start of the suffix and of snippets; snippets past the count are dropped, and
 * when the total is still too large, snippets go first, then prefix and suffix are shortened. Requests within the
 * bounds (all the extension's usual ones) come back unchanged (the same object).
 */
export function fitRequest<T extends CompletionRequest>(req: T): T {
  const L = LIMITS;
  const tail = (s: string, n: number) => (s.length > n ? s.slice(s.length - n) : s);
  const head = (s: string, n: number) => (s.length > n ? s.slice(0, n) : s);
  const snippets = req.snippets ?? [];
  const total = (r: CompletionRequest) =>
    r.prefix.length + r.suffix.length + r.path.length + r.languageId.length + (r.snippets ?? []).reduce((a, sn) => a + sn.path.length + sn.text.length, 0);
  const within =
    req.path.length <= L.maxPathChars &&
    req.languageId.length <= L.maxLanguageIdChars &&
    req.prefix.length <= L.maxPrefixChars &&
    req.suffix.length <= L.maxSuffixChars &&
    snippets.length <= L.maxSnippets &&
    snippets.every((sn) => sn.path.length <= L.maxPathChars && sn.text.length <= L.maxSnippetChars) &&
    total(req) <= L.maxRequestChars;
  if (within) return req;
  const out: T = {
    ...req,
    path: tail(req.path, L.maxPathChars),
    languageId: head(req.languageId, L.maxLanguageIdChars),
    prefix: tail(req.prefix, L.maxPrefixChars),
    suffix: head(req.suffix, L.maxSuffixChars),
    ...(req.snippets ? { snippets: snippets.slice(0, L.maxSnippets).map((sn) => ({ path: tail(sn.path, L.maxPathChars), text: head(sn.text, L.maxSnippetChars) })) } : {}),
  };
  let over = total(out) - L.maxRequestChars;
  if (over > 0 && out.snippets?.length) {
    out.snippets = [];
    over = total(out) - L.maxRequestChars;
  }
  if (over > 0) {
    const cutSuffix = Math.min(over, Math.max(0, out.suffix.length - 4096));
    out.suffix = out.suffix.slice(0, out.suffix.length - cutSuffix);
    over -= cutSuffix;
    if (over > 0) out.prefix = out.prefix.slice(Math.min(out.prefix.length, over));
  }
  return out;
}
