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

  // purpose: 'present' | 'visible' | 'click' | 'fill' | 'check' | 'upload' | 'next' | 'hover' | 'scroll'
  const stateOf = (el, purpose) => {
    if (purpose === 'present') return 'ok';
    if (purpose === 'next' && looksDisabled(el)) return 'disabled';
    if (!['check', 'upload'].includes(purpose) && !visible(el)) return 'hidden';
    if (!['visible', 'hover', 'scroll'].includes(purpose) && disabled(el)) return 'disabled';
    if (purpose === 'fill' && readOnly(el)) return 'readonly';
    return 'ok';
  };


  // ---- Scrolling, and what a person can see ----

  // Boxes around `el` that clip it (overflow other than visible), nearest first.
  const clippers = (el) => {
    const out = [];
    for (let a = el.parentElement; a && a !== document.documentElement; a = a.parentElement) {
      const st = getComputedStyle(a);
      if (st.overflowX !== 'visible' || st.overflowY !== 'visible') out.push(a);
      if (st.position === 'fixed') break;
    }
    return out;
  };
  const intersect = (r, b) => {
    const left = Math.max(r.left, b.left), top = Math.max(r.top, b.top);
    const right = Math.min(r.right, b.right), bottom = Math.min(r.bottom, b.bottom);
    return right > left && bottom > top ? { left, top, right, bottom } : null;
  };
  const viewport = () => ({ left: 0, top: 0, right: window.innerWidth, bottom: window.innerHeight });
  // The inside of a box, without its borders and scroll bars.
  const inner = (a) => {
    const b = a.getBoundingClientRect();
    const left = b.left + a.clientLeft, top = b.top + a.clientTop;
    return { left, top, right: left + a.clientWidth, bottom: top + a.clientHeight };
  };
  // The part of `el` left after every clipping box and the window: null when nothing is.
  const shownPart = (el) => {
    let r = el.getBoundingClientRect();
    for (const a of clippers(el)) {
      r = intersect(r, inner(a));
      if (!r) return null;
    }
    return intersect(r, viewport());
  };
  const whole = (el) => {
    const r = el.getBoundingClientRect();
    const part = shownPart(el);
    return !!part && part.left <= r.left + 1 && part.top <= r.top + 1 && part.right >= r.right - 1 && part.bottom >= r.bottom - 1;
  };
  // `<div class="overlay">`: how messages name an element.
  const describe = (el) => {
    const tag = el.tagName.toLowerCase();
    if (el.id) return `<${tag} id="${el.id}">`;
    const cls = (el.getAttribute('class') || '').trim().split(/\s+/).filter(Boolean).slice(0, 2).join(' ');
    if (cls) return `<${tag} class="${cls}">`;
    const text = norm(el.innerText || '').slice(0, 30);
    return text ? `<${tag}> "${text}"` : `<${tag}>`;
  };
  // Is `hit` (what the page has at a point) `el` itself, or part of it?
  const isOwn = (el, hit) => !!hit && (el === hit || el.contains(hit) ||
    (hit.contains(el) && getComputedStyle(el).pointerEvents === 'none'));
  // The element in front of `el` at the given points, or null when `el` shows at one of them.
  const inFront = (el, points) => {
    let first = null;
    for (const [x, y] of points) {
      const hit = document.elementFromPoint(x, y);
      if (isOwn(el, hit)) return null;
      if (!first && hit) first = hit;
    }
    return first;
  };
  // Centre and four inner points of the shown part of `el`.
  const samplePoints = (part) => {
    const w = part.right - part.left, h = part.bottom - part.top;
    const at = (fx, fy) => [part.left + w * fx, part.top + h * fy];
    return [at(0.5, 0.5), at(0.25, 0.25), at(0.75, 0.25), at(0.25, 0.75), at(0.75, 0.75)];
  };
  // Scroll `el` to the middle of every scrolling box around it and of the window, when it
  // is not wholly in view or something (a sticky header) is in front of its centre.
  const reveal = (el) => {
    if (!el.isConnected || !el.getClientRects().length) return;
    const part = shownPart(el);
    const centre = part && samplePoints(part).slice(0, 1);
    if (part && whole(el) && !inFront(el, centre)) return;
    el.scrollIntoView({ block: 'center', inline: 'center', behavior: 'instant' });
  };

  // Why a person could not see `el` ('transparent (opacity: 0)', …), or null when they can.
  // Scrolls it into view first, as a person would.
  const unseen = (el) => {
    if (!el.isConnected) return 'no longer on the page';
    if (!el.getClientRects().length || (el.checkVisibility && !el.checkVisibility())) return 'not displayed (display: none)';
    if (getComputedStyle(el).visibility !== 'visible') return 'hidden (visibility: hidden)';
    if (el.checkVisibility ? !el.checkVisibility({ opacityProperty: true })
      : (() => { for (let a = el; a; a = a.parentElement) if (getComputedStyle(a).opacity === '0') return true; return false; })()) {
      return 'transparent (opacity: 0)';
    }
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) return 'of zero size';
    reveal(el);
    // What the page shows at a few points of it is the truth; the rest only explains.
    const box = el.getBoundingClientRect();
    const onScreen = intersect(box, viewport());
    const part = shownPart(el);
    const front = onScreen && inFront(el, [...(part ? samplePoints(part) : []), ...samplePoints(onScreen)]);
    if (onScreen && !front) return null;
    for (const a of clippers(el)) {
      if (!intersect(box, inner(a))) return `cut off by the box ${describe(a)} around it`;
    }
    if (!onScreen) return 'outside the page (where nobody can scroll to)';
    return `covered by ${describe(front)}`;
  };

  // Element states for `wait_for`, `assert` and `if`: does `kind: value` have `state` now?
  // When several elements match equally well, `visible` and `enabled` need one of them,
  // `hidden` and `disabled` need all of them.
  const state = (kind, value, want) => {
    let list;
    try {
      list = candidates(kind, value, null);
    } catch (e) {
      if (kind === 'css' || kind === 'xpath') return { status: 'bad', message: String(e.message || e) };
      throw e;
    }
    const best = list.length ? list[0][0] : 0;
    const els = [...new Set(list.filter(([s]) => s === best).map(([, el]) => el))];
    const n = els.length;
    const absent = 'it is not on the page';
    let ok, now;
    switch (want) {
      case 'present':
        ok = n > 0; now = absent; break;
      case 'absent':
        ok = n === 0; now = n > 1 ? `it is on the page (${n} elements match)` : 'it is on the page'; break;
      case 'visible': {
        const why = els.map(unseen);
        ok = why.some((w) => w === null); now = n ? `it is ${why[0]}` : absent; break;
      }
      case 'hidden':
        ok = els.every((el) => unseen(el) !== null); now = 'it is visible'; break;
      case 'enabled':
        ok = els.some((el) => !disabled(el)); now = n ? 'it is disabled (greyed out)' : absent; break;
      case 'disabled':
        ok = n > 0 && els.every(disabled); now = n ? 'it is enabled' : absent; break;
      default:
        throw new Error('unknown state ' + want);
    }
    return { status: ok ? 'yes' : 'no', now, present: n > 0 };
  };

  // ---- Did a field keep what was put in it? ----

  const hiraganaToKatakana = (s) => s.replace(/[\u3041-\u3096]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0x60));
  // Text as compared: width, case, kana, spaces and separators (- , / ( ) ¥) do not count,
  // so a page that writes 0312345678 as 03-1234-5678 or ｱｲｳ as アイウ keeps the value.
  const comparable = (s) => {
    const t = hiraganaToKatakana(norm(s)).toLowerCase().replace(/\s+/g, '');
    const sign = /^[-−]\d/.test(t) ? '-' : '';
    return sign + t.replace(/[-‐‑‒–—―−,、/()¥$]/g, '');
  };
  const LENIENT = ['number', 'range', 'date', 'time', 'datetime-local', 'month', 'week', 'color'];
  // null when `el` holds `typed` (as compared above); else what it holds instead, and why.
  const kept = (el, typed) => {
    if (typed === '' || el.tagName === 'SELECT') return null;
    const type = (el.getAttribute('type') || '').toLowerCase();
    if (['checkbox', 'radio', 'file', 'hidden'].includes(type)) return null;
    const now = el.isContentEditable ? el.innerText : (el.value === undefined ? '' : String(el.value));
    const secret = type === 'password';
    if (now.trim() === '' && typed.trim() !== '') return { now, secret, reason: 'cleared it' };
    // Number and date fields show the value in their own format: only an empty one is wrong.
    if (LENIENT.includes(type) && el.tagName === 'INPUT') return null;
    if (comparable(now) === comparable(typed)) return null;
    const max = el.maxLength;
    const reason = max > 0 && now.length === max && typed.startsWith(now) ? `cut it to ${max} characters` : 'changed it';
    return { now, secret, reason };
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
      // Bring it into view inside every scrolling box around it (not only the page) before
      // a mouse or the keyboard works on it.
      if (['click', 'fill', 'check', 'hover', 'scroll'].includes(purpose)) reveal(ready);
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

  return { norm, find, setValue, pageErrors, hasText, visible, reveal, unseen, describe, inFront, state, kept };
})();
