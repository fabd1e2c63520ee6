/**
 * Tokenizer: encoding through @huggingface/tokenizers (the model's own tokenizer.json), plus a per-token
 * byte table so that decoding generated ids is exact, incremental and cheap (no partial-UTF-8 surprises).
 */
import { readFileSync } from 'node:fs';
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
    let hf: HfTokenizer;
    try {
      hf = new HfTokenizer(json, {});
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
   */
  encode(text: string): number[] {
    if (text.length === 0) return [];
    const clean = text.toWellFormed();
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

function isByteLevel(json: TokenizerJson): boolean {
  const d = json.decoder;
  if (d?.type === 'ByteLevel') return true;
  if (d?.decoders?.some((x) => x.type === 'ByteLevel')) return true;
  const p = json.pre_tokenizer;
  return p?.type === 'ByteLevel' || !!p?.pretokenizers?.some((x) => x.type === 'ByteLevel');
}
