/**
 * What may reach a terminal, a log or a notification: the one redaction of secrets (credentials in URLs, tokens in
 * query strings, Hugging Face tokens) and the one way a string that came from a model or a server (a model name, a
 * file path, a Hub error) is made printable (control characters, escape sequences included, shown as \xNN).
 */

const SECRET_PARAM = /^(?:access_?token|token|api_?key|key|password|passwd|secret|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|auth|authorization|code)$/i;

/** A URL without its user:password@ and with the values of token-like query parameters replaced by "***". */
export function redactUrl(u: string): string {
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    return u;
  }
  const secretParams = [...url.searchParams.keys()].filter((k) => SECRET_PARAM.test(k));
  if (!url.username && !url.password && secretParams.length === 0) return u; // nothing to take out: as written
  url.username = '';
  url.password = '';
  for (const k of secretParams) url.searchParams.set(k, '***');
  return url.toString();
}

/**
 * Text with every secret taken out: URLs (userinfo, token-like query parameters), anything that looks like a Hugging
 * Face token (hf_…), "Bearer …" values, and each of `secrets` verbatim (e.g. the token in use, whatever its form).
 */
export function redact(text: string, secrets: (string | undefined)[] = []): string {
  let s = text;
  for (const secret of secrets) {
    if (!secret || secret.length < 4) continue;
    s = s.split(secret).join('***');
    // The same secret with its line breaks or spaces cut out (a header value as Node quotes it).
    const trimmed = secret.trim();
    if (trimmed && trimmed !== secret) s = s.split(trimmed).join('***');
    for (const part of secret.split(/\s+/)) if (part.length >= 8) s = s.split(part).join('***');
  }
  s = s.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, (m) => redactUrl(m));
  s = s.replace(/\bhf_[A-Za-z0-9]{4,}/g, 'hf_***');
  s = s.replace(/\b(Bearer|Basic)\s+[^\s"']+/g, '$1 ***');
  return s;
}

/**
 * A string from a model or a server, safe to print: control characters (C0, DEL, C1: escape sequences, bells,
 * carriage returns) become \xNN, nothing else changes. `keepLines`: line feeds and tabs stay (a message of ours).
 */
export function printable(s: unknown, keepLines = false): string {
  const re = keepLines ? /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g : /[\u0000-\u001f\u007f-\u009f]/g;
  return String(s).replace(re, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** A message for output: printable (its line breaks kept) and redacted (see redact). */
export function safeMessage(text: string, secrets: (string | undefined)[] = []): string {
  return printable(redact(text, secrets), true);
}
