// dom.js — the two DOM helpers every component uses, and notices.

export const $ = (sel) => document.querySelector(sel);

// el builds an element: attrs class/text/on<event>/any attribute; kids appended.
export const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
};

// notice shows a message above the map.
export function notice(msg, kind = '') {
  const n = el('div', { class: 'notice ' + kind, text: msg });
  $('#notices').append(n);
  return n;
}
