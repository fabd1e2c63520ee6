/**
 * Tokenizer: encoding through @huggingface/tokenizers (the model's own tokenizer.json), plus a per-token
 * byte table so that decoding generated ids is exact, incremental and cheap (no partial-UTF-8 surprises).
 */
import { existsSync, readFileSync } from 'node:fs';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';

export class TokenizerError extends Error {}

/** GPT-2 byte-level alphabet: the printable character each byte is written as in a byte-level vocabulary. */
function byteLevelDecoderTable(): Map<string, number> {
  const bytes: number[] = [];
  for (let b = 33; b <= 126; b++) bytes.push(b);
  for (let b = 161; b <= 172; b++) bytes.push(b);
  for (let b = 174; b <= 255; b++) bytes.push(b);
  const chars = bytes.map((b) => String.fromCharCode(b));
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      chars.push(String.fromCharCode(256 + n));
      n++;
    }
  }
  const table = new Map<string, number>();
  bytes.forEach((b, i) => table.set(chars[i], b));
  return table;
}

interface TokenizerJson {
  model?: { type?: string; vocab?: Record<string, number> | [string, number][] };
  added_tokens?: { id: number; content: string; special?: boolean }[];
  decoder?: { type?: string; decoders?: { type?: string }[] } | null;
  pre_tokenizer?: { type?: string; pretokenizers?: { type?: string }[] } | null;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

export class Tokenizer {
  /** Raw bytes of every token id (special tokens: empty). */
  readonly tokenBytes: Uint8Array[];
  readonly specialIds: Set<number>;
  readonly vocabSize: number;
  private readonly specialByText = new Map<string, number>();
  private readonly lineCache = new Map<string, number[]>();
  /** Whether pieces split after newline runs encode like the whole (see encode). */
  private readonly lineSafe: boolean;

  private constructor(
    private readonly hf: HfTokenizer,
    json: TokenizerJson,
  ) {
    const vocab = json.model?.vocab;
    const entries: [string, number][] = Array.isArray(vocab) ? vocab.map((v, i) => [v[0], i]) : Object.entries(vocab ?? {});
    let maxId = 0;
    for (const [, id] of entries) maxId = Math.max(maxId, id);
    for (const t of json.added_tokens ?? []) maxId = Math.max(maxId, t.id);
    this.vocabSize = maxId + 1;
    this.tokenBytes = new Array(this.vocabSize).fill(new Uint8Array(0));
    this.specialIds = new Set();
    const byteLevel = isByteLevel(json);
    const table = byteLevel ? byteLevelDecoderTable() : null;
    const enc = new TextEncoder();
    for (const [text, id] of entries) {
      if (table) {
        const out = new Uint8Array(text.length);
        let ok = true;
        for (let i = 0; i < text.length; i++) {
          const b = table.get(text[i]);
          if (b === undefined) {
            ok = false;
            break;
          }
          out[i] = b;
        }
        this.tokenBytes[id] = ok ? out : enc.encode(text);
      } else {
        // SentencePiece-style vocabularies: "▁" is a space, <0xNN> a raw byte.
        const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(text);
        this.tokenBytes[id] = m ? Uint8Array.of(parseInt(m[1], 16)) : enc.encode(text.replace(/\u2581/g, ' '));
      }
    }
    this.lineSafe = byteLevel && splitsAfterNewlines(json);
    for (const t of json.added_tokens ?? []) {
      if (t.special !== false) {
        this.specialIds.add(t.id);
        this.tokenBytes[t.id] = new Uint8Array(0);
      } else {
        this.tokenBytes[t.id] = enc.encode(t.content);
      }
      this.specialByText.set(t.content, t.id);
    }
  }

  static load(file: string): Tokenizer {
    let json: TokenizerJson;
    try {
      json = JSON.parse(readFileSync(file, 'utf8')) as TokenizerJson;
    } catch (e) {
      throw new TokenizerError(`cannot read tokenizer ${file}: ${(e as Error).message}`);
    }
    if (!json.model || !json.model.vocab) throw new TokenizerError(`tokenizer ${file} has no model.vocab`);
    let config: Record<string, unknown> = {};
    const configFile = file.replace(/tokenizer\.json$/, 'tokenizer_config.json');
    if (configFile !== file && existsSync(configFile)) {
      try {
        config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
      } catch (e) {
        throw new TokenizerError(`cannot read tokenizer config ${configFile}: ${(e as Error).message}`);
      }
    }
    let hf: HfTokenizer;
    try {
      // Code must come back byte for byte: never "clean up" spaces around punctuation.
      hf = new HfTokenizer(json, { ...config, clean_up_tokenization_spaces: false });
    } catch (e) {
      throw new TokenizerError(`tokenizer ${file} could not be loaded: ${(e as Error).message}`);
    }
    return new Tokenizer(hf, json);
  }

  /** Id of a special token by its text, or undefined. */
  specialId(text: string): number | undefined {
    return this.specialByText.get(text);
  }

  /**
   * Encodes user text. Special-token strings that occur inside the text (a file that mentions
   * "<|endoftext|>") are encoded as plain text, never as control tokens.
   *
   * Text is encoded line by line through a cache: with the byte-level pre-tokenizers of code models (GPT-2 /
   * Qwen2 patterns), no pre-token spans the point right after a newline run, so encoding the pieces split there
   * gives exactly the ids of encoding the whole (tested against the library on real files). While the user
   * types, only the edited line is encoded again.
   */
  encode(text: string): number[] {
    if (text.length === 0) return [];
    const clean = text.toWellFormed();
    if (!this.lineSafe) return this.encodeRaw(clean);
    const ids: number[] = [];
    let start = 0;
    for (let i = clean.indexOf('\n'); i !== -1 && i < clean.length - 1; i = clean.indexOf('\n', i + 1)) {
      const next = clean.charCodeAt(i + 1);
      if (next === 10 || next === 13) continue;
      this.encodeCached(clean.slice(start, i + 1), ids);
      start = i + 1;
    }
    if (start < clean.length) this.encodeCached(clean.slice(start), ids);
    return ids;
  }

  private encodeCached(piece: string, out: number[]): void {
    let hit = this.lineCache.get(piece);
    if (!hit) {
      hit = this.encodeRaw(piece);
      if (this.lineCache.size >= 50_000) this.lineCache.clear();
      this.lineCache.set(piece, hit);
    }
    for (let i = 0; i < hit.length; i++) out.push(hit[i]);
  }

  private encodeRaw(clean: string): number[] {
    if (!clean.includes('<|')) return this.hf.encode(clean, { add_special_tokens: false }).ids;
    const ids: number[] = [];
    // Split before every "<|" so no piece contains a whole special-token string.
    const parts = clean.split(/(?=<\|)/);
    for (let i = 0; i < parts.length; i++) {
      let piece = parts[i];
      if (piece.startsWith('<|')) {
        ids.push(...this.hf.encode('<', { add_special_tokens: false }).ids);
        piece = piece.slice(1);
      }
      if (piece) ids.push(...this.hf.encode(piece, { add_special_tokens: false }).ids);
    }
    return ids;
  }

  /** Exact decode of ids to text; special tokens decode to nothing. */
  decode(ids: ArrayLike<number>): string {
    return utf8.decode(this.bytesOf(ids));
  }

  bytesOf(ids: ArrayLike<number>): Uint8Array {
    let n = 0;
    for (let i = 0; i < ids.length; i++) n += this.tokenBytes[ids[i]]?.length ?? 0;
    const out = new Uint8Array(n);
    let o = 0;
    for (let i = 0; i < ids.length; i++) {
      const b = this.tokenBytes[ids[i]];
      if (b) {
        out.set(b, o);
        o += b.length;
      }
    }
    return out;
  }

  /** The library's own decode (used by tests to cross-check the byte table). */
  decodeWithLibrary(ids: number[]): string {
    return this.hf.decode(ids, { skip_special_tokens: true });
  }
}

/**
 * True for the pre-tokenizer patterns known to end a pre-token at the end of a newline run: the Qwen2 / GPT-4 style
 * split regex whose newline alternatives are `\s*[\r\n]+` and `[\r\n]*` suffixes, and no normalizer.
 */
function splitsAfterNewlines(json: TokenizerJson & { normalizer?: unknown }): boolean {
  if (json.normalizer) return false;
  const patterns: string[] = [];
  const visit = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    const n = node as { pattern?: { Regex?: string }; pretokenizers?: unknown[] };
    if (n.pattern?.Regex) patterns.push(n.pattern.Regex);
    n.pretokenizers?.forEach(visit);
  };
  visit(json.pre_tokenizer);
  return patterns.length === 1 && patterns[0].includes('\\s*[\\r\\n]+') && patterns[0].includes('\\s+(?!\\S)');
}

function isByteLevel(json: TokenizerJson): boolean {
  const d = json.decoder;
  if (d?.type === 'ByteLevel') return true;
  if (d?.decoders?.some((x) => x.type === 'ByteLevel')) return true;
  const p = json.pre_tokenizer;
  return p?.type === 'ByteLevel' || !!p?.pretokenizers?.some((x) => x.type === 'ByteLevel');
}
