/* Web chat page: plain script, no dependencies, CSP-safe (no inline styles, no innerHTML). */
(function () {
  'use strict';

  const STRINGS = {
    sv: {
      switch: 'English', exit: 'Lämna sidan snabbt', label: 'Ditt meddelande', placeholder: 'Skriv här…',
      send: 'Skicka', log: 'Meddelanden', options: 'Svarsalternativ',
      offline: 'Ingen anslutning just nu. Vi försöker igen.',
      sendFail: 'Meddelandet skickades inte. Försök igen.',
      footer: 'Du kan vara anonym. Skriv RADERA för att ta bort allt om dig, eller KOD för att kunna fortsätta senare.',
      codeGet: 'Få en kod för att fortsätta senare', codeLabel: 'Har du en kod? Skriv den här', codeUse: 'Öppna',
      codeFail: 'Koden kunde inte prövas. Försök igen.', ended: 'Chatten är avslutad. Ladda om sidan för att börja en ny.',
    },
    en: {
      switch: 'Svenska', exit: 'Leave quickly', label: 'Your message', placeholder: 'Write here…',
      send: 'Send', log: 'Messages', options: 'Choices',
      offline: 'No connection right now. Trying again.',
      sendFail: 'The message was not sent. Try again.',
      footer: 'You can stay anonymous. Write DELETE to erase everything about you, or CODE to continue later.',
      codeGet: 'Get a code to continue later', codeLabel: 'Have a code? Write it here', codeUse: 'Open',
      codeFail: 'The code could not be tried. Try again.', ended: 'The chat has ended. Reload the page to start a new one.',
    },
  };
  const LANG_KEY = 'chat-ui-lang'; // neutral name: nothing in storage hints at what the site is
  const LEAVE_URL = '/chat/leave'; // forgets this chat on the device, then goes on to a search engine
  const MAX_BACKOFF_MS = 10000;

  const $ = (id) => document.getElementById(id);
  const log = $('messages'), input = $('input'), sendBtn = $('send'), statusEl = $('status');

  let lang = readLang();
  let lastId = 0; // highest id the server has shown us; the next poll asks for what comes after
  let lastMeId = 0; // highest id of the person's own messages, to know when options are stale
  const seen = new Set(); // ids already on screen: never show the same id twice
  let shownOptions = null; // {id, options} of the latest bot message, to restore after a failed send
  let pollMs = 1500, failures = 0, timer = null, inFlight = false, pollAgain = false;
  let sending = false, leaving = false, ended = false;
  let status = null; // {kind, text}; kind is a STRINGS key so it can be re-translated

  function readLang() { // only the UI language is ever stored, never message text
    try { return localStorage.getItem(LANG_KEY) === 'en' ? 'en' : 'sv'; } catch (e) { return 'sv'; }
  }
  const t = (key) => STRINGS[lang][key];

  // The page chrome's language; the switch below also tells the conversation.
  function applyLang() {
    document.documentElement.lang = lang;
    document.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
    $('lang-switch').lang = lang === 'sv' ? 'en' : 'sv';
    input.placeholder = t('placeholder');
    log.setAttribute('aria-label', t('log'));
    log.querySelectorAll('.options').forEach((g) => g.setAttribute('aria-label', t('options')));
    renderStatus();
  }

  function setStatus(kind, text) {
    if (kind === 'offline' && status && status.kind === 'sendFail') return; // "not sent" matters more
    status = { kind: kind, text: text || '' }; // text: the server's own sentence, if it gave one
    renderStatus();
  }
  function clearStatus(kind) { if (status && status.kind === kind) { status = null; renderStatus(); } }
  function renderStatus() {
    const text = status ? (status.text || t(status.kind)) : '';
    if (statusEl.textContent !== text) statusEl.textContent = text; // unchanged: no repeat announcement
  }

  const nearBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  const toBottom = () => { log.scrollTop = log.scrollHeight; };

  // Untrusted text: always textContent, never innerHTML.
  const msgEl = (from, text) => Object.assign(document.createElement('div'),
    { className: 'msg ' + (from === 'me' ? 'me' : 'bot'), textContent: text == null ? '' : String(text) });

  // The danger answer: its own look, and the emergency numbers as tel: links built node by node (no innerHTML).
  // The page keeps format-detection off, so the phone links nothing else (codes, dates) on its own.
  const PHONE_NUMBERS = /\b(112|90101|1177|114 14)\b/g;
  function dangerEl(text) {
    const el = Object.assign(document.createElement('div'), { className: 'msg bot danger' });
    const s = text == null ? '' : String(text);
    let at = 0;
    s.replace(PHONE_NUMBERS, (number, _group, offset) => {
      el.appendChild(document.createTextNode(s.slice(at, offset)));
      const a = Object.assign(document.createElement('a'),
        { className: 'tel', href: 'tel:' + number.replace(/ /g, ''), textContent: number });
      el.appendChild(a);
      at = offset + number.length;
      return number;
    });
    el.appendChild(document.createTextNode(s.slice(at)));
    return el;
  }

  // Keep id order even when a bot message overtakes the person's pending one.
  function insertById(el, id) {
    const next = Array.prototype.find.call(log.querySelectorAll('.msg'),
      (x) => !x.dataset.id || Number(x.dataset.id) > id);
    log.insertBefore(el, next || null);
  }

  function removeOptions() { log.querySelectorAll('.options').forEach((g) => g.remove()); }

  function renderOptions(options) {
    removeOptions();
    const group = Object.assign(document.createElement('div'), { className: 'options' });
    group.setAttribute('role', 'group'); // announced as one set of choices
    group.setAttribute('aria-label', t('options'));
    options.forEach((o) => {
      // Untrusted label: textContent only.
      const b = Object.assign(document.createElement('button'),
        { type: 'button', className: 'option', textContent: o.label });
      b.dataset.key = o.key;
      b.addEventListener('click', () => choose(o));
      group.appendChild(b);
    });
    log.appendChild(group);
  }

  // A poll may return our own message before the POST answer gave us its id: adopt the pending bubble.
  function adoptPending(m, id) {
    const el = Array.prototype.find.call(log.querySelectorAll('.msg.me.pending'),
      (x) => !x.dataset.id && x.textContent === m.text);
    if (el) { el.dataset.id = id; el.classList.remove('pending'); }
    return !!el;
  }

  function addMessages(list) {
    const stick = nearBottom();
    let newest = null;
    list.forEach((m) => {
      const id = Number(m.id);
      if (!id) return;
      lastId = Math.max(lastId, id);
      if (seen.has(id)) return;
      seen.add(id);
      newest = m;
      if (m.from === 'me') {
        lastMeId = Math.max(lastMeId, id);
        if (adoptPending(m, id)) return;
      }
      const el = m.from === 'bot' && m.danger === true ? dangerEl(m.text) : msgEl(m.from, m.text);
      el.dataset.id = id;
      insertById(el, id);
    });
    if (!newest) return;
    // Options belong to the latest bot message only, and only until the person answers.
    const opts = newest.from === 'bot' && Array.isArray(newest.options) ? newest.options : [];
    shownOptions = opts.length ? { id: Number(newest.id), options: opts } : null;
    // While a send is under way choices stay hidden; send() brings them back if it fails.
    if (!sending && shownOptions && shownOptions.id > lastMeId) renderOptions(opts);
    else if (!sending) removeOptions();
    if (stick) toBottom();
  }

  function failure(sentence) {
    const e = new Error('chat request failed');
    e.sentence = typeof sentence === 'string' ? sentence : '';
    return e;
  }

  async function poll() {
    stopTimer();
    if (leaving) return;
    if (inFlight) { pollAgain = true; return; } // e.g. right after a send: run once more when done
    inFlight = true;
    try {
      const r = await fetch('/chat/api/messages?after=' + lastId, {
        credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' },
      });
      const data = await r.json().catch(() => null);
      if (!r.ok || !data) throw failure(data && data.error);
      const ms = Number(data.poll_ms);
      if (ms >= 300 && ms <= 60000) pollMs = ms;
      if (!leaving) addMessages(Array.isArray(data.messages) ? data.messages : []);
      if (data.ended) end(); // erased: the goodbye is shown, nothing more will come
      failures = 0;
      clearStatus('offline');
    } catch (err) {
      failures += 1; // network down or server trouble: say so quietly and back off
      setStatus('offline', err.sentence);
    }
    inFlight = false;
    if (ended) return;
    if (pollAgain) { pollAgain = false; poll(); } else schedule();
  }

  // Poll only while visible; back off (up to 10 s) while the connection is failing.
  function stopTimer() { clearTimeout(timer); timer = null; }
  function schedule() {
    stopTimer();
    if (document.hidden || leaving || ended) return;
    const delay = failures ? Math.min(MAX_BACKOFF_MS, pollMs * Math.pow(2, failures)) : pollMs;
    timer = setTimeout(poll, delay);
  }

  async function send(body) {
    sending = sendBtn.disabled = true;
    removeOptions(); // the person has answered: old choices go away (restored if the send fails)
    const el = msgEl('me', body.text);
    el.classList.add('pending'); // shown at once so it feels instant
    log.appendChild(el);
    toBottom(); // the person's own message always scrolls into view
    let ok = false;
    try {
      const r = await fetch('/chat/api/send', {
        method: 'POST', credentials: 'same-origin', cache: 'no-store',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(body),
      });
      const data = await r.json().catch(() => null);
      if (!r.ok) throw failure(data && data.error);
      const id = Number(data && data.id);
      if (data && data.notice) { // the person asked for their code: shown beside the chat, not in it
        el.remove();
        $('code-shown').textContent = data.notice;
        $('code-shown').hidden = false;
      }
      if (id) {
        lastMeId = Math.max(lastMeId, id);
        if (seen.has(id) && el.dataset.id !== String(id)) el.remove(); // poll already showed it
        el.dataset.id = id;
        seen.add(id);
      }
      ok = true;
    } catch (err) {
      ok = !!el.dataset.id; // a poll already showed it stored: only the answer got lost
      if (!ok) {
        el.remove();
        if (shownOptions && shownOptions.id > lastMeId) renderOptions(shownOptions.options);
        setStatus('sendFail', err.sentence);
      }
    }
    if (ok) { el.classList.remove('pending'); shownOptions = null; clearStatus('sendFail'); }
    sending = sendBtn.disabled = false;
    poll();
    return ok;
  }

  async function sendTyped() {
    const text = input.value.trim();
    if (!text || sending) return;
    input.value = '';
    grow();
    if (!(await send({ text: text }))) {
      // Not sent: give the text back so nothing the person wrote is lost.
      input.value = input.value ? text + '\n' + input.value : text;
      grow();
    }
  }

  function choose(option) {
    if (sending) return;
    send({ choice: option.key, text: option.label });
    // The pressed button is gone; keep focus in a sensible place without popping up a phone keyboard.
    const touch = window.matchMedia && window.matchMedia('(pointer: coarse)').matches;
    (touch ? log : input).focus({ preventScroll: true });
  }

  // Grow the textarea from 1 to 4 rows with its content (rows attribute: no inline styles under CSP).
  function grow() {
    input.rows = 1;
    while (input.rows < 4 && input.scrollHeight > input.clientHeight) input.rows += 1;
  }

  function end() {
    ended = true;
    stopTimer();
    input.disabled = sendBtn.disabled = true;
    setStatus('ended');
  }

  function leave() {
    leaving = true;
    stopTimer();
    log.textContent = input.value = statusEl.textContent = $('code-shown').textContent = ''; // nothing left on screen
    window.location.replace(LEAVE_URL); // replace: this page does not stay in Back history
  }

  async function post(url, body) {
    const r = await fetch(url, {
      method: 'POST', credentials: 'same-origin', cache: 'no-store',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(body),
    });
    const data = await r.json().catch(() => null);
    if (!r.ok || !data) throw failure(data && data.error);
    return data;
  }

  // A code to write down: shown once, on screen only, never stored in the browser.
  async function getCode() {
    try {
      const data = await post('/chat/api/code', {});
      $('code-shown').textContent = data.text;
      $('code-shown').hidden = false;
    } catch (err) { setStatus('codeFail', err.sentence); }
  }

  async function useCode(e) {
    e.preventDefault();
    const field = $('code-input');
    const code = field.value.trim();
    if (!code) return;
    try {
      await post('/chat/api/resume', { code: code });
      field.value = '';
      window.location.replace('/chat'); // the reopened chat, under this browser's new id
    } catch (err) { setStatus('codeFail', err.sentence); }
  }

  let shiftTimes = [];
  function onKeyForExit(e) {
    // Only Shift presses in a row count, so typing capital letters never triggers it.
    if (e.key !== 'Shift') { shiftTimes = []; return; }
    if (e.repeat) return;
    const now = Date.now();
    shiftTimes = shiftTimes.filter((x) => now - x < 1500).concat(now);
    if (shiftTimes.length >= 3) leave();
  }

  $('quick-exit').addEventListener('click', leave);
  $('code-get').addEventListener('click', getCode);
  $('resume').addEventListener('submit', useCode);
  document.addEventListener('keydown', onKeyForExit, true);
  $('lang-switch').addEventListener('click', () => {
    lang = lang === 'sv' ? 'en' : 'sv';
    try { localStorage.setItem(LANG_KEY, lang); } catch (e) { /* private mode: just not remembered */ }
    applyLang();
    // The conversation changes language too: the switch is an answer like any button ("lang:en").
    if (seen.size && !sending) send({ choice: 'lang:' + lang, text: STRINGS[lang === 'sv' ? 'en' : 'sv'].switch });
  });
  $('composer').addEventListener('submit', (e) => { e.preventDefault(); sendTyped(); });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); sendTyped(); }
  });
  input.addEventListener('input', grow);
  document.addEventListener('visibilitychange', () => (document.hidden ? stopTimer() : poll()));

  applyLang();
  grow();
  poll();
})();
