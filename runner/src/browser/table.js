// Read a table as { headers, rows } of trimmed texts: a <table>, or a table drawn with ARIA
// roles (role=table, grid or treegrid; rows role=row; cells cell, gridcell, columnheader,
// rowheader). `arguments[0]` is the element the step found: the table, or something
// around it or inside it. Rows the page hides (display: none, `hidden`, aria-hidden, a
// collapsed tree branch) are left out, as a person does not see them; so are empty rows.
const ARIA = '[role=table], [role=grid], [role=treegrid]';
const start = arguments[0];
const isTable = (e) => e.tagName === 'TABLE' || e.matches(ARIA);
const el = isTable(start) ? start : start.querySelector('table, ' + ARIA) || start.closest('table, ' + ARIA);
if (!el) return null;
const shown = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden' && !e.closest('[aria-hidden=true]');
const text = (c) => {
  let t = (c.innerText || c.textContent || '').trim();
  if (!t) {
    // An editable grid's cell shows its value in a field; an icon's name is its aria-label.
    const field = c.querySelector('input:not([type=hidden]), select, textarea');
    if (field && field.value !== undefined) t = String(field.value).trim();
    else t = (c.getAttribute('aria-label') || '').trim();
  }
  return t;
};
let headers = [];
let body = [];
if (el.tagName === 'TABLE' && !el.querySelector('[role=row]')) {
  const rows = [...el.rows];
  body = rows;
  const head = el.tHead && el.tHead.rows.length ? el.tHead.rows[el.tHead.rows.length - 1] : null;
  if (head) {
    headers = [...head.cells].map(text);
    body = rows.filter((r) => !el.tHead.contains(r));
  } else if (rows.length && [...rows[0].cells].every((c) => c.tagName === 'TH')) {
    headers = [...rows[0].cells].map(text);
    body = rows.slice(1);
  }
  body = body.filter(shown).map((r) => [...r.cells].map(text));
} else {
  // Rows and cells of this table only, not of a table nested inside one of its cells.
  const owner = (e) => e.parentElement.closest(ARIA + ', table');
  const rows = [...el.querySelectorAll('[role=row], tr')].filter((r) => owner(r) === el);
  const CELLS = '[role=cell], [role=gridcell], [role=columnheader], [role=rowheader], td, th';
  const cellsOf = (r) => {
    const out = [];
    for (const c of r.querySelectorAll(CELLS)) {
      if (c.parentElement.closest('[role=row], tr') !== r) continue;
      // Grids that draw only some columns say where each cell goes (aria-colindex, from 1).
      const at = parseInt(c.getAttribute('aria-colindex'), 10);
      if (at > 0) out[at - 1] = c;
      else out.push(c);
    }
    return out;
  };
  const isHead = (c) => c && (c.getAttribute('role') === 'columnheader' || (c.tagName === 'TH' && !c.getAttribute('role')));
  const headRows = [];
  for (const r of rows) {
    const cells = cellsOf(r);
    if (cells.length && cells.every(isHead)) headRows.push(cells);
    else if (shown(r)) body.push(cells);
  }
  if (headRows.length) headers = [...headRows[headRows.length - 1]].map((c) => (c ? text(c) : ''));
  body = body.map((cells) => [...cells].map((c) => (c ? text(c) : '')));
}
const rows = body.filter((r) => r.length && r.some((c) => c));
return { headers, rows, aria: el.tagName !== 'TABLE' };
