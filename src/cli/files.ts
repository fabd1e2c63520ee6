/** Reading source files for the CLI: text check, size limit, 1-based line/column split. */
import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

/** Bad flags or bad input: exit code 2. */
export class UsageError extends Error {}
/** Failures that are not the user's input: exit code 1. */
export class RuntimeError extends Error {}

export const MAX_FILE_BYTES = 10 * 1024 * 1024;


const LANGUAGE_BY_EXT: Record<string, string> = {
  '.ts': 'typescript', '.mts': 'typescript', '.cts': 'typescript', '.tsx': 'typescriptreact', '.js': 'javascript',
  '.mjs': 'javascript', '.cjs': 'javascript', '.jsx': 'javascriptreact', '.py': 'python', '.pyi': 'python', '.go': 'go',
  '.rs': 'rust', '.java': 'java', '.c': 'c', '.h': 'c', '.cc': 'cpp', '.cpp': 'cpp', '.cxx': 'cpp', '.hpp': 'cpp',
  '.cs': 'csharp', '.sh': 'shellscript', '.bash': 'shellscript', '.rb': 'ruby', '.php': 'php', '.json': 'json',
  '.html': 'html', '.css': 'css', '.scss': 'scss', '.md': 'markdown', '.yaml': 'yaml', '.yml': 'yaml', '.sql': 'sql',
  '.lua': 'lua', '.kt': 'kotlin', '.swift': 'swift', '.toml': 'toml', '.vue': 'vue', '.svelte': 'svelte',
};

export function languageOf(file: string): string {
  return LANGUAGE_BY_EXT[path.extname(file).toLowerCase()] ?? 'plaintext';
}

/** Reads a text file for completion; rejects missing, binary and oversized files with a UsageError. */
export function readTextFile(file: string): string {
  let st;
  try {
    st = statSync(file);
  } catch {
    throw new UsageError(`file ${file} does not exist`);
  }
  if (st.isDirectory()) throw new UsageError(`${file} is a directory, not a file`);
  if (st.size >= MAX_FILE_BYTES) throw new UsageError(`file ${file} is too large (${(st.size / 1048576).toFixed(1)} MB; the limit is 10 MB)`);
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    throw new RuntimeError(`cannot read ${file}: ${(e as Error).message}`);
  }
  if (looksBinary(buf)) throw new UsageError(`file ${file} looks binary (not text); only text files can be completed`);
  let text = buf.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return text;
}

function looksBinary(buf: Buffer): boolean {
  const n = Math.min(buf.length, 64 * 1024);
  let control = 0;
  for (let i = 0; i < n; i++) {
    const b = buf[i];
    if (b === 0) return true;
    if (b < 32 && b !== 9 && b !== 10 && b !== 13 && b !== 12 && b !== 27 && b !== 8) control++;
  }
  return n > 0 && control / n > 0.1;
}

/** Splits text at a 1-based line/column (UTF-16 columns; CRLF line ends count as the line's end). */
export function splitAt(text: string, line: number, column: number, file = 'the file'): { prefix: string; suffix: string } {
  let start = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) {
      const count = l;
      throw new UsageError(`--line ${line} is past the end of ${file} (${count} line${count === 1 ? '' : 's'})`);
    }
    start = nl + 1;
  }
  let end = text.indexOf('\n', start);
  if (end < 0) end = text.length;
  if (end > start && text[end - 1] === '\r') end--;
  const len = end - start;
  if (column > len + 1) throw new UsageError(`--column ${column} is past the end of line ${line} of ${file} (${len} characters; the end is column ${len + 1})`);
  const at = start + column - 1;
  return { prefix: text.slice(0, at), suffix: text.slice(at) };
}

