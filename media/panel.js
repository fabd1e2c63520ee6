// Superdraft draft-picker webview script. Host boundary: acquireVsCodeApi() (called once). Messages are typed in
// src/extension/panelHtml.ts (HostToPanel / PanelToHost). No inline script: loaded with the page's nonce.
(function () {
  'use strict';
  var vscode = acquireVsCodeApi();
  var root = document.getElementById('superdraft-panel');
  var groupsEl = document.getElementById('sd-groups');
  var emptyEl = document.getElementById('sd-empty');
  var locEl = document.getElementById('sd-location');
  var statusEl = document.getElementById('sd-status');
  var HL = window.SuperdraftHighlight;

  var state = vscode.getState() || {};
  var view = state.view || null;
  var selected = typeof state.selected === 'number' ? state.selected : 0;

  function save() {
    vscode.setState({ view: view, selected: selected });
  }

  function rows() {
    return Array.prototype.slice.call(groupsEl.querySelectorAll('.sd-draft'));
  }

  function fmtMs(ms) {
    if (typeof ms !== 'number' || !isFinite(ms)) return '';
    return ms < 10 ? ms.toFixed(1) + ' ms' : Math.round(ms) + ' ms';
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function render() {
    while (groupsEl.firstChild) groupsEl.removeChild(groupsEl.firstChild);
    if (!view) {
      root.setAttribute('data-view-id', '');
      root.setAttribute('data-count', '0');
      emptyEl.hidden = false;
      locEl.textContent = '';
      return;
    }
    root.setAttribute('data-view-id', String(view.id));
    root.setAttribute('data-mode', view.mode);
    locEl.textContent = view.file + ':' + view.line + ':' + view.column + (view.mode === 'compare' ? ' · comparing strategies' : '');
    var count = 0;
    var index = 0;
    view.groups.forEach(function (g) {
      var section = el('section', 'sd-group');
      section.setAttribute('data-strategy', g.strategy);
      if (typeof g.ms === 'number') section.setAttribute('data-ms', String(Math.round(g.ms)));
      var h = el('h2', 'sd-group-title');
      h.appendChild(el('span', 'sd-group-name', g.strategy));
      var meta = [];
      if (typeof g.ms === 'number') meta.push(fmtMs(g.ms));
      if (g.cached) meta.push('cached');
      if (g.timing) meta.push(g.timing.forwards + ' passes');
      if (g.timing && g.timing.acceptedSpeculative) meta.push(g.timing.acceptedSpeculative + ' speculative');
      if (g.timing && typeof g.timing.copyMs === 'number') meta.push('copy lookup ' + fmtMs(g.timing.copyMs));
      if (g.timing && typeof g.timing.rankMs === 'number') meta.push('ranking ' + fmtMs(g.timing.rankMs));
      h.appendChild(el('span', 'sd-group-meta', meta.join(' · ')));
      section.appendChild(h);
      if (g.error) {
        var err = el('p', 'sd-error', g.error);
        err.setAttribute('data-testid', 'group-error');
        section.appendChild(err);
      }
      if (!g.error && !g.drafts.length) section.appendChild(el('p', 'sd-none', 'No drafts.'));
      var list = el('ol', 'sd-drafts');
      g.drafts.forEach(function (d) {
        var li = el('li', 'sd-draft');
        li.id = 'sd-draft-' + g.strategy + '-' + d.rank;
        li.setAttribute('role', 'option');
        li.setAttribute('data-rank', String(d.rank));
        li.setAttribute('data-strategy', d.strategy || g.strategy);
        li.setAttribute('data-group', g.strategy);
        li.setAttribute('data-index', String(index));
        li.setAttribute('data-score', String(d.score));
        li.setAttribute('data-tokens', String(d.tokens));
        li.setAttribute('data-source', d.source || 'model');
        if (typeof g.ms === 'number') li.setAttribute('data-ms', String(Math.round(g.ms)));
        var m = el('div', 'sd-meta');
        var key = index < 9 ? String(index + 1) : '';
        m.appendChild(el('span', 'sd-key', key));
        m.appendChild(el('span', 'sd-rank', '#' + d.rank));
        m.appendChild(el('span', 'sd-score', 'score ' + (typeof d.score === 'number' ? d.score.toFixed(2) : '?')));
        m.appendChild(el('span', 'sd-tokens', d.tokens + ' tok'));
        m.appendChild(el('span', 'sd-strategy', d.strategy || g.strategy));
        m.appendChild(el('span', 'sd-source' + (d.source && d.source !== 'model' ? ' sd-copied' : ''), d.source || 'model'));
        if (typeof g.ms === 'number') m.appendChild(el('span', 'sd-ms', fmtMs(g.ms)));
        li.appendChild(m);
        var pre = el('pre', 'sd-code');
        var code = el('code', 'sd-text');
        code.setAttribute('data-text', '');
        if (HL) HL.render(code, d.text, view.languageId);
        else code.textContent = d.text;
        pre.appendChild(code);
        li.appendChild(pre);
        li.addEventListener('click', function () {
          select(Number(li.getAttribute('data-index')));
          insert(li);
        });
        list.appendChild(li);
        index++;
        count++;
      });
      section.appendChild(list);
      groupsEl.appendChild(section);
    });
    root.setAttribute('data-count', String(count));
    emptyEl.hidden = count > 0 || view.groups.some(function (g) { return !!g.error; });
    emptyEl.textContent = 'No drafts at this position.';
    if (selected >= count) selected = 0;
    select(selected, true);
  }

  function select(i, noScroll) {
    var rs = rows();
    if (!rs.length) return;
    selected = Math.max(0, Math.min(rs.length - 1, i));
    rs.forEach(function (r, j) {
      r.classList.toggle('selected', j === selected);
      r.setAttribute('aria-selected', j === selected ? 'true' : 'false');
    });
    root.setAttribute('data-selected', String(selected));
    if (!noScroll && rs[selected].scrollIntoView) rs[selected].scrollIntoView({ block: 'nearest' });
    save();
  }

  function insert(li) {
    if (!view || !li) return;
    vscode.postMessage({
      type: 'insert',
      viewId: view.id,
      strategy: li.getAttribute('data-group'),
      rank: Number(li.getAttribute('data-rank')),
    });
  }

  function setStatus(status, message) {
    root.setAttribute('data-state', status);
    statusEl.textContent = message || (status === 'thinking' ? 'thinking…' : status === 'idle' ? '' : status);
  }

  window.addEventListener('message', function (ev) {
    var msg = ev.data;
    if (!msg || typeof msg.type !== 'string') return;
    if (msg.type === 'view' && msg.view) {
      var sameSpot = view && view.mode === msg.view.mode && view.file === msg.view.file && view.line === msg.view.line && view.column === msg.view.column;
      view = msg.view;
      if (!sameSpot) selected = 0;
      render();
      save();
    } else if (msg.type === 'status') {
      setStatus(msg.status, msg.message);
    } else if (msg.type === 'shown') {
      rows().forEach(function (r) {
        var on = r.getAttribute('data-group') === msg.strategy && Number(r.getAttribute('data-rank')) === msg.rank;
        r.classList.toggle('shown', on);
        if (on) r.setAttribute('data-shown', 'true');
        else r.removeAttribute('data-shown');
      });
    }
  });

  document.addEventListener('keydown', function (ev) {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    var rs = rows();
    if (ev.key === 'ArrowDown') { select(selected + 1); ev.preventDefault(); }
    else if (ev.key === 'ArrowUp') { select(selected - 1); ev.preventDefault(); }
    else if (ev.key === 'Home') { select(0); ev.preventDefault(); }
    else if (ev.key === 'End') { select(rs.length - 1); ev.preventDefault(); }
    else if (ev.key === 'Enter') { insert(rs[selected]); ev.preventDefault(); }
    else if (ev.key === 'Escape') { vscode.postMessage({ type: 'close' }); ev.preventDefault(); }
    else if (/^[1-9]$/.test(ev.key)) {
      var n = Number(ev.key) - 1;
      if (rs[n]) { select(n); insert(rs[n]); }
      ev.preventDefault();
    }
  });

  render();
  root.focus();
  vscode.postMessage({ type: 'ready' });
})();
