// kobo's in-page helpers. Prepended to every script kobo runs in the page; the code after it
// uses `kobo`. Finding an element is one script call: fast, and never half-done when the
// page re-renders between two WebDriver calls.
const kobo = (() => {
  const norm = (s) => String(s == null ? '' : s).normalize('NFKC').replace(/\s+/g, ' ').trim();
  // Also ignore required-field marks and letter case.
  const loose = (s) => {
    let t = norm(s), prev;
    do {
      prev = t;
      t = t.replace(/\s*(\(必須\)|\[必須\]|必須|\*|※|:)$/u, '').replace(/^(\*|※)\s*/u, '').trim();
    } while (t !== prev);
    return t.toLowerCase();
  };
  // 3: exact, 2: ignoring marks and case, 1: contains, 0: no match.
  const score = (text, query) => {
    if (norm(text) === norm(query)) return 3;
    const l = loose(text), q = loose(query);
    if (!q) return 0;
    if (l === q) return 2;
    if (l.includes(q)) return 1;
    return 0;
  };
  const CONTROLS = 'input:not([type=hidden]), select, textarea, [contenteditable=""], [contenteditable="true"], ' +
    '[role=textbox], [role=combobox], [role=checkbox], [role=radio], [role=switch], [role=spinbutton], [role=listbox]';
  const CLICKABLE = 'button, a, [role=button], [role=link], [role=menuitem], [role=tab], [role=option], ' +
    'input[type=submit], input[type=button], input[type=reset], input[type=image], summary, label, [onclick]';

  const visible = (el) => {
    if (!el.isConnected) return false;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') return false;
    return [...el.getClientRects()].some((r) => r.width > 0 && r.height > 0);
  };
  const disabled = (el) => (el.matches && el.matches(':disabled')) || el.getAttribute('aria-disabled') === 'true';
  const looksDisabled = (el) => disabled(el) || el.classList.contains('disabled');
  const readOnly = (el) => el.readOnly === true || el.getAttribute('aria-readonly') === 'true';

  // Text of a label without the text of controls inside it (a wrapped <select>'s options).
  const labelText = (label) => {
    const copy = label.cloneNode(true);
    copy.querySelectorAll('input, select, textarea, script, style').forEach((e) => e.remove());
    return copy.textContent;
  };
  const controlIn = (el) => (!el ? null : el.matches(CONTROLS) ? el : el.querySelector(CONTROLS));
  const shownText = (el) => {
    if (el.matches('input')) return el.value || el.getAttribute('aria-label') || '';
    return el.innerText || el.getAttribute('aria-label') || el.getAttribute('title') || '';
  };
  // Keep only matches that do not contain another match (the innermost element).
  const innermost = (els) => els.filter((e) => !els.some((o) => o !== e && e.contains(o)));

  // Candidates as [score, element], best first; `names` collects what the page offers,
  // for "did you mean" hints.
  const candidates = (kind, value, names) => {
    const out = [];
    const add = (text, el) => {
      if (names && text && norm(text)) names.push(norm(text));
      if (!el) return;
      const s = score(text, value);
      if (s) out.push([s, el, text]);
    };
    const all = (selector) => [...document.querySelectorAll(selector)];
    switch (kind) {
      case 'css':
        return all(value).map((el) => [3, el]);
      case 'xpath': {
        const found = document.evaluate(value, document, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null);
        const list = [];
        for (let i = 0; i < found.snapshotLength; i++) {
          const node = found.snapshotItem(i);
          list.push([3, node.nodeType === 1 ? node : node.parentElement]);
        }
        return list;
      }
      case 'name':
        return [...document.getElementsByName(value)].map((el) => [3, el]);
      case 'placeholder':
        all('[placeholder]').forEach((el) => add(el.getAttribute('placeholder'), el));
        break;
      case 'title':
        all('[title]').forEach((el) => add(el.getAttribute('title'), el));
        break;
      case 'label': {
        all('label').forEach((label) => add(labelText(label), label.control));
        all('[aria-label]').forEach((el) => el.matches(CONTROLS) && add(el.getAttribute('aria-label'), el));
        all('[aria-labelledby]').forEach((el) => {
          if (!el.matches(CONTROLS)) return;
          const ids = el.getAttribute('aria-labelledby').split(/\s+/);
          add(ids.map((id) => (document.getElementById(id) || {}).textContent || '').join(' '), el);
        });
        // A label in the cell (th, td, dt) just before the control's cell.
        all('th, td, dt').forEach((cell) => {
          const control = controlIn(cell.nextElementSibling);
          if (control) add(cell.textContent, control);
        });
        all('[placeholder]').forEach((el) => el.matches(CONTROLS) && add(el.getAttribute('placeholder'), el));
        break;
      }
      case 'text': {
        const clickable = all(CLICKABLE);
        clickable.forEach((el) => add(shownText(el), el));
        const best = out.reduce((m, [s]) => Math.max(m, s), 0);
        if (best < 3) {
          // Any element showing the text; buttons and links still win at equal score.
          const seen = new Set(clickable);
          const matches = [];
          for (const el of document.body ? document.body.querySelectorAll('*') : []) {
            if (seen.has(el) || el.matches('script, style, noscript, template')) continue;
            const s = score(el.innerText, value);
            if (s) matches.push([s - 0.5, el]);
          }
          const inner = innermost(matches.map(([, el]) => el));
          matches.forEach((m) => inner.includes(m[1]) && out.push(m));
        }
        break;
      }
      default:
        throw new Error('unknown locator kind ' + kind);
    }
    out.sort((a, b) => b[0] - a[0]);
    return out;
  };

  // purpose: 'present' | 'visible' | 'click' | 'fill' | 'check' | 'upload' | 'next'
  const stateOf = (el, purpose) => {
    if (purpose === 'present') return 'ok';
    if (purpose === 'next' && looksDisabled(el)) return 'disabled';
    if (!['check', 'upload'].includes(purpose) && !visible(el)) return 'hidden';
    if (purpose !== 'visible' && disabled(el)) return 'disabled';
    if (purpose === 'fill' && readOnly(el)) return 'readonly';
    return 'ok';
  };

  const find = (kind, value, purpose, suggest) => {
    const names = suggest ? [] : null;
    let list;
    try {
      list = candidates(kind, value, names);
    } catch (e) {
      if (kind === 'css' || kind === 'xpath') return { status: 'bad', message: String(e.message || e) };
      throw e;
    }
    const result = (status, el) => {
      const out = { status, count: list.length, frames: document.querySelectorAll('iframe, frame').length };
      if (el) {
        out.el = el;
        out.tag = el.tagName.toLowerCase();
        out.type = (el.getAttribute('type') || '').toLowerCase();
        out.editable = el.isContentEditable;
      }
      if (names) {
        if (kind === 'text') document.querySelectorAll(CLICKABLE).forEach((e) => visible(e) && names.push(norm(shownText(e))));
        out.names = [...new Set(names.filter((n) => n && n.length <= 60))].slice(0, 40);
      }
      return out;
    };
    if (!list.length) return result('missing');
    // `check: { text: 同意する }` names the words a person sees: when they are a label's,
    // the box to tick is the control that label belongs to.
    if (purpose === 'check') {
      list = list.map(([s, el, text]) => {
        const label = el.closest ? el.closest('label') : null;
        return [s, (label && label.control) || el, text];
      });
    }
    const best = list[0][0];
    const top = list.filter(([s]) => s === best).map(([, el]) => el);
    const ready = top.find((el) => stateOf(el, purpose) === 'ok');
    if (ready) {
      // Two different usable fields that fit a label equally well: taking the first would
      // fill the wrong one without a word. (Buttons and links with the same text are
      // common and usually do the same thing, so `text:` still takes the first.)
      if (kind === 'label') {
        const seen = new Set();
        const usable = list.filter(([s, el]) => s === best && stateOf(el, purpose) === 'ok' && !seen.has(el) && seen.add(el));
        if (usable.length > 1) {
          const out = result('ambiguous', null);
          out.candidates = usable.slice(0, 5).map(([, el, text]) => {
            const tag = el.tagName.toLowerCase();
            const attr = el.getAttribute('name') ? ` name="${el.getAttribute('name')}"` : el.id ? ` id="${el.id}"` : '';
            return `"${norm(text)}" (<${tag}${attr}>)`;
          });
          return out;
        }
      }
      return result('ok', ready);
    }
    return result(stateOf(top[0], purpose), null);
  };

  // Set a value the way a framework (React, Vue) notices, then send input and change events.
  const setValue = (el, text) => {
    if (el.isContentEditable) {
      el.focus();
      el.textContent = text;
    } else {
      const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype
        : el instanceof HTMLSelectElement ? HTMLSelectElement.prototype : HTMLInputElement.prototype;
      Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, text);
    }
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
  };

  // Messages the page shows as errors, to explain a failed check.
  const pageErrors = () => [...new Set(
    [...document.querySelectorAll('.error, .errors, .alert-danger, .invalid-feedback, [role=alert]')]
      .filter(visible).map((e) => norm(e.innerText)).filter((t) => t && t.length < 300))].slice(0, 5);

  const hasText = (text) => !!document.body && norm(document.body.innerText).includes(norm(text));

  return { norm, find, setValue, pageErrors, hasText, visible };
})();
