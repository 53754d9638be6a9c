"""The script of report.html: changed items travel as JSON in the page and only one page of
cards at a time is in the DOM, so a report of 100,000 items stays as quick as one of 100.
Every model text is put in with textContent, never innerHTML."""

PAGE_SIZE = 50

SCRIPT = """
(function(){
  const PAGE = %d;
  const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };
  const fmt = x => Math.abs(x) >= 1000 ? x.toFixed(0) : x.toFixed(3);
  const cache = {};
  function data(id){ return cache[id] || (cache[id] = JSON.parse(document.getElementById(id).textContent)); }
  function card(it){
    const c = el('div', 'item' + (it.decisive ? ' decisive' : ''));
    const head = el('div', 'head');
    head.append(el('span', it.gain > 0 ? 'up' : 'down', it.gain > 0 ? 'improved ' : 'regressed '));
    if (it.decisive) head.append(el('span', 'tag', 'decides a failing gate'));
    head.append(el('span', '', ' ' + it.task + ' / ' + it.id + (it.cluster ? ' [' + it.cluster + ']' : '') + ' · '
      + it.metric + ' ' + fmt(it.base_score) + ' → ' + fmt(it.ft_score)));
    const prompt = el('details'); prompt.append(el('summary', 'muted', 'prompt as sent'), el('pre', '', it.prompt));
    const cols = el('div', 'cols');
    for (const [label, text] of [['base', it.base], ['fine-tune', it.ft], ['reference', it.reference]]) {
      const d = el('div'); d.append(el('b', '', label), el('pre', '', text)); cols.append(d);
    }
    c.append(head, prompt, cols); return c;
  }
  for (const box of document.querySelectorAll('[data-items]')) {
    const all = data(box.dataset.items);
    const only = box.dataset.mode === 'decisive';
    const items = only ? all.filter(it => it.decisive) : all;
    const list = box.querySelector('.list'), count = box.querySelector('.count');
    const search = box.querySelector('input[type=search]'), task = box.querySelector('select');
    const prev = box.querySelector('.prev'), next = box.querySelector('.next');
    let kind = 'all', page = 0, hay = null;
    function shown(){
      const q = search ? search.value.toLowerCase() : '';
      if (q && hay === null) hay = items.map(it => [it.prompt, it.base, it.ft, it.reference, it.id, it.cluster].join('\\n').toLowerCase());
      const t = task ? task.value : '';
      const out = [];
      for (let i = 0; i < items.length; i++) {
        const it = items[i];
        if (kind !== 'all' && (kind === 'up') !== (it.gain > 0)) continue;
        if (t !== '' && it.task !== t) continue;
        if (q !== '' && !hay[i].includes(q)) continue;
        out.push(it);
      }
      return out;
    }
    function draw(){
      const rows = shown(), pages = Math.max(1, Math.ceil(rows.length / PAGE));
      page = Math.min(page, pages - 1);
      list.replaceChildren(...rows.slice(page * PAGE, (page + 1) * PAGE).map(card));
      count.textContent = rows.length + ' of ' + items.length + (only ? ' deciding items' : ' changed items')
        + (pages > 1 ? ' · page ' + (page + 1) + ' of ' + pages : '');
      if (prev) prev.disabled = page === 0;
      if (next) next.disabled = page >= pages - 1;
    }
    for (const b of box.querySelectorAll('button[data-kind]')) b.addEventListener('click', () => {
      kind = b.dataset.kind; page = 0;
      box.querySelectorAll('button[data-kind]').forEach(x => x.classList.toggle('on', x === b)); draw(); });
    if (prev) prev.addEventListener('click', () => { page -= 1; draw(); });
    if (next) next.addEventListener('click', () => { page += 1; draw(); });
    if (search) search.addEventListener('input', () => { page = 0; draw(); });
    if (task) task.addEventListener('change', () => { page = 0; draw(); });
    draw();
  }
})();
""" % PAGE_SIZE
