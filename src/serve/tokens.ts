/**
 * Access tokens for `superdraft serve --tokens FILE`. The file holds one token a line, `NAME TOKEN` or a bare `TOKEN`,
 * with `#` comments and blank lines. Only SHA-256 digests are kept in memory; a presented token is hashed and compared
 * with every digest in constant time (crypto.timingSafeEqual, no early exit), so neither the match nor its position
 * leaks through timing. The name (never the token) is what logs and metrics show.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

export class TokenFileError extends Error {}

interface Entry {
  name: string;
  digest: Buffer;
}

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/** Shortest token accepted: a guessable token makes the check pointless. */
export const MIN_TOKEN_CHARS = 16;

export class TokenStore {
  private constructor(private readonly entries: Entry[]) {}

  /** Parses a tokens file's text; every problem names its line. */
  static parse(text: string, source = 'tokens file'): TokenStore {
    const entries: Entry[] = [];
    const names = new Set<string>();
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.replace(/#.*$/, '').trim();
      if (!line) return;
      const parts = line.split(/\s+/);
      if (parts.length > 2) throw new TokenFileError(`${source}:${i + 1}: expected "NAME TOKEN" or "TOKEN"`);
      const token = parts[parts.length - 1];
      const name = parts.length === 2 ? parts[0] : `token${entries.length + 1}`;
      if (token.length < MIN_TOKEN_CHARS) throw new TokenFileError(`${source}:${i + 1}: the token is shorter than ${MIN_TOKEN_CHARS} characters`);
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new TokenFileError(`${source}:${i + 1}: a name is 1 to 64 letters, digits, "_", "." or "-"`);
      if (names.has(name)) throw new TokenFileError(`${source}:${i + 1}: the name ${name} is used twice`);
      names.add(name);
      entries.push({ name, digest: digest(token) });
    });
    if (entries.length === 0) throw new TokenFileError(`${source} holds no token`);
    return new TokenStore(entries);
  }

  static load(file: string): TokenStore {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new TokenFileError(`cannot read the tokens file ${file}: ${(e as Error).message}`);
    }
    return TokenStore.parse(text, file);
  }

  get size(): number {
    return this.entries.length;
  }

  /** The name of the token, or undefined; the same work whatever the token and wherever it matches. */
  check(token: string): string | undefined {
    const d = digest(token);
    let found: string | undefined;
    for (const e of this.entries) {
      if (timingSafeEqual(d, e.digest) && found === undefined) found = e.name;
    }
    return found;
  }

  /** The token of an `Authorization: Bearer TOKEN` header, or undefined. */
  static bearer(header: string | undefined): string | undefined {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    return m ? m[1] : undefined;
  }
}
