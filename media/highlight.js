// Superdraft draft-picker: a small tokenizer-based syntax highlighter. Builds DOM nodes (never innerHTML), so
// draft text cannot inject markup. Exposes window.SuperdraftHighlight = { tokenize, render }.
(function () {
  'use strict';

  var KEYWORDS = {};
  [
    // shared / C-family / JS / TS
    'abstract as async await break case catch class const continue debugger default delete do else enum export extends',
    'false finally for from function get if implements import in instanceof interface let new null of package private',
    'protected public readonly return set static super switch this throw true try type typeof undefined var void while',
    'with yield declare namespace module keyof infer satisfies',
    // python
    'and assert def del elif except global is lambda nonlocal not or pass raise None True False self',
    // rust / go / c / java
    'fn impl mut pub use mod struct trait where match loop crate unsafe ref move dyn go chan defer func map range select',
    'goto char int long short float double unsigned signed sizeof typedef union volatile extern auto register bool',
    'boolean byte final native synchronized throws transient strictfp end then elsif begin until unless require'
  ].join(' ').split(/\s+/).forEach(function (w) { if (w) KEYWORDS[w] = true; });

  var HASH_COMMENT = { python: 1, shellscript: 1, ruby: 1, perl: 1, r: 1, yaml: 1, toml: 1, makefile: 1, dockerfile: 1, powershell: 1, coffeescript: 1, julia: 1, elixir: 1 };

  function isIdentStart(c) { return /[A-Za-z_$]/.test(c); }
  function isIdent(c) { return /[A-Za-z0-9_$]/.test(c); }

  /** Splits text into tokens {type, text}; type is one of kw, str, num, com, fn, type, punct, text. */
  function tokenize(text, languageId) {
    var out = [];
    var hash = !!HASH_COMMENT[languageId || ''];
    var i = 0, n = text.length;
    function push(type, s) {
      if (!s) return;
      var last = out[out.length - 1];
      if (last && last.type === type && type === 'text') last.text += s;
      else out.push({ type: type, text: s });
    }
    while (i < n) {
      var c = text[i];
      var rest2 = text.substr(i, 2);
      if (rest2 === '//' && !hash || (c === '#' && hash)) {
        var e = text.indexOf('\n', i); if (e < 0) e = n;
        push('com', text.slice(i, e)); i = e; continue;
      }
      if (rest2 === '/*') {
        var e2 = text.indexOf('*/', i + 2); e2 = e2 < 0 ? n : e2 + 2;
        push('com', text.slice(i, e2)); i = e2; continue;
      }
      if (c === '"' || c === "'" || c === '`') {
        var triple = hash && text.substr(i, 3) === c + c + c;
        var q = triple ? c + c + c : c;
        var j = i + q.length;
        while (j < n) {
          if (text[j] === '\\') { j += 2; continue; }
          if (text.substr(j, q.length) === q) { j += q.length; break; }
          if (!triple && c !== '`' && text[j] === '\n') break;
          j++;
        }
        push('str', text.slice(i, Math.min(j, n))); i = Math.min(j, n); continue;
      }
      if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(text[i + 1] || ''))) {
        var m = /^(0[xX][0-9a-fA-F_]+|0[bB][01_]+|[0-9][0-9_]*(\.[0-9_]*)?([eE][+-]?[0-9]+)?|\.[0-9]+)[a-zA-Z]*/.exec(text.slice(i, i + 64));
        var s = m ? m[0] : c;
        push('num', s); i += s.length; continue;
      }
      if (isIdentStart(c)) {
        var k = i + 1;
        while (k < n && isIdent(text[k])) k++;
        var word = text.slice(i, k);
        var after = text.slice(k).match(/^\s*\(/);
        if (KEYWORDS[word]) push('kw', word);
        else if (after) push('fn', word);
        else if (/^[A-Z][A-Za-z0-9_]*[a-z][A-Za-z0-9_]*$/.test(word)) push('type', word);
        else push('text', word);
        i = k; continue;
      }
      if (/[{}()\[\];,.<>=+\-*\/%!&|^~?:]/.test(c)) { push('punct', c); i++; continue; }
      push('text', c); i++;
    }
    return out;
  }

  /** Replaces el's children with highlighted spans for text. */
  function render(el, text, languageId) {
    while (el.firstChild) el.removeChild(el.firstChild);
    var toks = tokenize(text, languageId);
    for (var t = 0; t < toks.length; t++) {
      var tok = toks[t];
      if (tok.type === 'text') { el.appendChild(document.createTextNode(tok.text)); continue; }
      var span = document.createElement('span');
      span.className = 'tok-' + tok.type;
      span.textContent = tok.text;
      el.appendChild(span);
    }
  }

  window.SuperdraftHighlight = { tokenize: tokenize, render: render };
})();
