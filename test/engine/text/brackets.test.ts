/**
 * Copied lines adapted to the cursor's bracket depth (brackets.ts), alone and through findCopies.
 */
import { describe, expect, it } from 'vitest';
import { openBrackets, rebalanceCopy as rebalanceOpen } from '../../../src/engine/text/brackets';

const rebalanceCopy = (copied: string, siteLine: string, cursorLine: string): string => rebalanceOpen(copied, siteLine, openBrackets(cursorLine));
import { findCopies } from '../../../src/engine/candidates/copy';

describe('openBrackets', () => {
  it('skips strings, escapes and line comments; null when the line closes what it did not open', () => {
    expect(openBrackets('foo(bar[1], "(", \'[\', `{`, ')).toEqual(['(']);
    expect(openBrackets('x = f("\\")(", ')).toEqual(['(']);
    expect(openBrackets('f(a, // (((')).toEqual(['(']);
    expect(openBrackets('f(a,  # ((')).toEqual(['(']);
    expect(openBrackets('this.#items.push({')).toEqual(['(', '{']);
    expect(openBrackets('  }).then((')).toBeNull();
    expect(openBrackets('"open string')).toBeNull();
  });
});

describe('rebalanceCopy', () => {
  it('closes the brackets the cursor line has open beyond the copied line', () => {
    expect(rebalanceCopy('files || []);', 'setFiles(message.', 'setContextFiles(new Map(message.')).toBe('files || []));');
    expect(rebalanceCopy('x]);\nnext()', 'a.push(b[', 'f(a.push(b[')).toBe('x]));\nnext()');
    expect(rebalanceCopy('value }),', 'items.push({ key: ', 'list.concat([items.push({ key: ')).toBe('value })]),');
  });

  it('drops closers the cursor line does not need', () => {
    expect(rebalanceCopy('files || []));', 'setContextFiles(new Map(message.', 'setFiles(message.')).toBe('files || []);');
    expect(rebalanceCopy('b)', 'f(a, ', 'x = a + ')).toBe('b');
  });

  it('leaves the copy alone when the lines do not correspond', () => {
    // the copy does not end its line's brackets (a multi-line call continues)
    expect(rebalanceCopy('b,', 'f(a, ', 'g(h(a, ')).toBe('b,');
    // the innermost brackets differ
    expect(rebalanceCopy('x];', 'a[', 'f(g(')).toBe('x];');
    // same depth: nothing to do
    expect(rebalanceCopy('y);', 'f(x.', 'g(x.')).toBe('y);');
    // a closer inside a string is not a bracket
    expect(rebalanceCopy('")";', 'f(', 'g(h(')).toBe('")";');
  });
});

describe('findCopies with bracket depth', () => {
  it('a copied line closes what the cursor line has open', () => {
    const prefix = 'function a(message) {\n  setFiles(message.files || []);\n  setContextFiles(new Map(message.';
    const sites = findCopies({ prefix, suffix: '\n}\n' }, null);
    expect(sites[0]?.text.split('\n')[0]).toBe('files || []));');
  });
});
