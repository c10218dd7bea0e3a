/* StrikeFlow web client: one page over the public API (REST /api/v1 and the /ws feed).
 *
 * No framework and no build step. Tokens live in memory (and sessionStorage, so a reload of
 * the tab keeps the session); the access token is refreshed before it expires, and since
 * refresh tokens rotate, the newest one always replaces the old. The WebSocket pings every
 * 10 s, reconnects with backoff and resumes each channel from the last sequence it saw.
 * Everything received is rendered with textContent: nothing from the server becomes HTML.
 */
(() => {
  "use strict";

  const API = "/api/v1";
  const PING_MS = 10000;
  const PORTFOLIO_MS = 4000;
  const BOOK_LEVELS = 14;
  const MAX_TRADES = 60;
  const MAX_FILLS = 200;
  const MAX_NOTES = 100;
  const OPEN = new Set(["accepted", "partially_filled", "amended", "triggered"]);
  const PRIVATE = ["orders", "fills", "positions", "notifications"];
  const STORE = "strikeflow.session";

  const $ = (id) => document.getElementById(id);

  const state = {
    tokens: null, // login answer + expires_at (ms)
    refreshing: null, // the refresh in flight (one at a time: tokens rotate)
    refreshTimer: 0,
    instruments: new Map(),
    symbol: null,
    book: newBook(),
    trades: [],
    orders: new Map(), // open orders by client order id
    fills: new Map(), // by key, newest last
    positions: new Map(), // by symbol
    notes: [],
    last: null, // the last order placed from the form: {cid, symbol, answer, status}
    ws: null,
    wsGen: 0,
    seqs: {}, // channel -> last seq seen
    pingTimer: 0,
    reconnectTimer: 0,
    backoff: 1000,
    portfolioTimer: 0,
    bookFrame: 0,
    authRetryAt: 0,
    connects: 0, // sockets opened so far (shown as data-connects on the status badge)
    resumed: new Set(), // channels resumed with since, no message yet on this socket
  };

  function newBook() {
    return { bids: new Map(), asks: new Map(), engineSeq: -1, loading: false, pending: [] };
  }

  // -- helpers ---------------------------------------------------------------------------------
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null) continue;
        if (k === "class") node.className = v;
        else if (k === "text") node.textContent = v;
        else if (k === "dataset") Object.assign(node.dataset, v);
        else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v);
      }
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  function decimals(step) {
    const s = String(step || "");
    const i = s.indexOf(".");
    return i < 0 ? 0 : s.replace(/0+$/, "").length - i - 1;
  }

  function inst() {
    return state.instruments.get(state.symbol) || {};
  }

  function fmtNum(value, places) {
    if (value === null || value === undefined || value === "") return "–";
    const n = Number(value);
    if (!Number.isFinite(n)) return String(value);
    return places === undefined ? String(value) : n.toFixed(places);
  }

  const fmtPrice = (v) => fmtNum(v, decimals(inst().tick_size || "0.01"));
  const fmtQty = (v) => fmtNum(v, Math.min(8, Math.max(decimals(inst().lot_size || "0.0001"), 0)));

  /** A price or quantity of ``symbol`` on its grid; unknown grids: the plain number. */
  function fmtOn(symbol, value, what) {
    const i = state.instruments.get(symbol);
    const step = i && (what === "price" ? i.tick_size : i.lot_size);
    if (step) return fmtNum(value, Math.min(8, decimals(step)));
    if (value === null || value === undefined || value === "") return "–";
    const n = Number(value);
    return Number.isFinite(n) ? String(n) : String(value);
  }

  function fmtMoney(v) {
    if (v === null || v === undefined || v === "") return "–";
    const n = Number(v);
    if (!Number.isFinite(n)) return String(v);
    return n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  function signClass(v) {
    const n = Number(v);
    return !Number.isFinite(n) || n === 0 ? "" : n > 0 ? "pos" : "neg";
  }

  function toDate(ts) {
    if (ts === null || ts === undefined || ts === "") return null;
    if (typeof ts === "number") return new Date(ts < 1e12 ? ts * 1000 : ts);
    const d = new Date(ts);
    return Number.isNaN(d.getTime()) ? null : d;
  }

  function fmtTime(ts) {
    const d = toDate(ts) || new Date();
    return d.toTimeString().slice(0, 8);
  }

  function cid() {
    const bytes = new Uint8Array(8);
    crypto.getRandomValues(bytes);
    return "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function detailText(body) {
    if (!body) return "";
    const d = body.detail !== undefined ? body.detail : body.error;
    if (d === undefined) return "";
    if (typeof d === "string") return d;
    if (Array.isArray(d)) {
      return d.map((e) => {
        const loc = (e.loc || []).filter((x) => x !== "body").join(".");
        return (loc ? loc + ": " : "") + (e.msg || JSON.stringify(e));
      }).join("; ");
    }
    if (typeof d === "object" && d.reason) return (d.code ? d.code + " " : "") + d.reason;
    return JSON.stringify(d);
  }

  // -- REST ------------------------------------------------------------------------------------
  async function api(method, path, body, opts = {}) {
    const auth = opts.auth !== false;
    if (auth && state.tokens && state.tokens.expires_at - Date.now() < 5000) {
      await refreshTokens().catch(() => null);
    }
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (auth && state.tokens) headers.Authorization = "Bearer " + state.tokens.access_token;
    let res;
    try {
      res = await fetch(API + path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin", cache: "no-store",
      });
    } catch (err) {
      return { status: 0, body: { detail: "network error: " + err.message }, headers: new Headers() };
    }
    let data = null;
    const text = await res.text();
    if (text) {
      try { data = JSON.parse(text); } catch { data = { detail: text }; }
    }
    if (res.status === 401 && auth && state.tokens && opts.retry !== false) {
      const ok = await refreshTokens().then(() => true, () => false);
      if (ok) return api(method, path, body, { ...opts, retry: false });
    }
    return { status: res.status, body: data, headers: res.headers };
  }

  // -- session ---------------------------------------------------------------------------------
  function setTokens(t) {
    state.tokens = { ...t, expires_at: Date.now() + Number(t.expires_in || 300) * 1000 };
    try { sessionStorage.setItem(STORE, JSON.stringify(state.tokens)); } catch { /* private mode */ }
    clearTimeout(state.refreshTimer);
    const life = Number(t.expires_in || 300) * 1000;
    // Well before expiry: at 80% of the lifetime, and at least 30 s before the end.
    const due = Math.max(5000, Math.min(life * 0.8, life - 30000));
    state.refreshTimer = setTimeout(() => {
      refreshTokens().catch(() => { /* handled in refreshTokens */ });
    }, due);
  }

  function refreshTokens() {
    if (state.refreshing) return state.refreshing;
    if (!state.tokens) return Promise.reject(new Error("not logged in"));
    const token = state.tokens.refresh_token;
    state.refreshing = (async () => {
      let res;
      try {
        res = await fetch(API + "/auth/refresh", {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ refresh_token: token }), cache: "no-store",
        });
      } catch (err) {
        // Offline for now: try again shortly, the access token may still be good.
        clearTimeout(state.refreshTimer);
        state.refreshTimer = setTimeout(() => refreshTokens().catch(() => null), 5000);
        throw err;
      }
      const body = await res.json().catch(() => ({}));
      if (!res.ok) {
        if (res.status === 401) endSession("Your session expired: log in again.");
        else {
          clearTimeout(state.refreshTimer);
          state.refreshTimer = setTimeout(() => refreshTokens().catch(() => null), 5000);
        }
        throw new Error(detailText(body) || "refresh failed (" + res.status + ")");
      }
      if (!state.tokens || state.tokens.refresh_token !== token) return; // logged out meanwhile
      setTokens(body);
    })().finally(() => { state.refreshing = null; });
    return state.refreshing;
  }

  function authMessage(text, kind) {
    const m = $("auth-message");
    m.textContent = text || "";
    m.className = "message" + (kind ? " " + kind : "");
  }

  async function login(username, password, totp) {
    const body = { username, password };
    if (totp) body.totp = totp;
    const res = await api("POST", "/auth/login", body, { auth: false });
    if (res.status === 200) {
      setTokens(res.body);
      authMessage("");
      $("login-password").value = "";
      await enterTrading();
      return true;
    }
    if (res.status === 429) {
      const wait = res.headers.get("Retry-After");
      authMessage("Too many attempts. Try again in " + (wait || "a few") + " s.", "error");
    } else {
      const text = detailText(res.body) || "login failed (" + res.status + ")";
      if (/totp|one-time/i.test(text)) $("totp-row").hidden = false;
      authMessage(text, "error");
    }
    return false;
  }

  async function onLogin(ev) {
    ev.preventDefault();
    const btn = $("login-submit");
    btn.disabled = true;
    authMessage("Logging in…");
    try {
      await login($("login-username").value.trim(), $("login-password").value,
        $("login-totp").value.trim());
    } finally {
      btn.disabled = false;
    }
  }

  async function onRegister(ev) {
    ev.preventDefault();
    const username = $("register-username").value.trim();
    const password = $("register-password").value;
    const btn = $("register-submit");
    btn.disabled = true;
    authMessage("Creating the account…");
    try {
      const res = await api("POST", "/auth/register", { username, password }, { auth: false });
      if (res.status === 201) {
        authMessage("Account " + res.body.account + " created. Logging in…", "ok");
        $("login-username").value = username;
        await login(username, password);
      } else if (res.status === 429) {
        authMessage("Too many sign-ups from here. Try again in " +
          (res.headers.get("Retry-After") || "a few") + " s.", "error");
      } else {
        authMessage(detailText(res.body) || "registration failed (" + res.status + ")", "error");
      }
    } finally {
      btn.disabled = false;
    }
  }

  async function logout() {
    const t = state.tokens;
    if (t) {
      await api("POST", "/auth/logout", { refresh_token: t.refresh_token }, { retry: false })
        .catch(() => null);
    }
    endSession("Logged out.");
  }

  function endSession(message) {
    state.tokens = null;
    try { sessionStorage.removeItem(STORE); } catch { /* ignore */ }
    clearTimeout(state.refreshTimer);
    clearInterval(state.portfolioTimer);
    closeSocket();
    state.orders.clear(); state.fills.clear(); state.positions.clear();
    state.notes = []; state.last = null; state.seqs = {};
    $("trade-view").hidden = true;
    $("market-bar").hidden = true;
    $("who").hidden = true;
    $("logout").hidden = true;
    $("ws-status").hidden = true;
    $("auth-view").hidden = false;
    authMessage(message || "", message && /expired/.test(message) ? "error" : "");
  }

  // -- the trading screen ----------------------------------------------------------------------
  async function enterTrading() {
    $("auth-view").hidden = true;
    $("trade-view").hidden = false;
    $("market-bar").hidden = false;
    const who = $("who");
    who.replaceChildren("Account ", el("b", { text: state.tokens.account }),
      state.tokens.role && state.tokens.role !== "trader" ? " · " + state.tokens.role : "");
    who.hidden = false;
    $("logout").hidden = false;
    $("ws-status").hidden = false;
    renderAll();
    await loadInstruments();
    connect();
    refreshPortfolio();
    clearInterval(state.portfolioTimer);
    state.portfolioTimer = setInterval(refreshPortfolio, PORTFOLIO_MS);
    loadAccount();
  }

  async function loadInstruments() {
    const [spot, options] = await Promise.all([
      api("GET", "/market/instruments?kind=spot", undefined, { auth: false }),
      api("GET", "/market/instruments?kind=option", undefined, { auth: false }),
    ]);
    const select = $("instrument");
    select.replaceChildren();
    state.instruments.clear();
    const groups = [["Spot", spot], ["Options", options]];
    for (const [label, res] of groups) {
      if (res.status !== 200 || !Array.isArray(res.body) || !res.body.length) continue;
      const group = el("optgroup", { label });
      for (const i of res.body) {
        state.instruments.set(i.symbol, i);
        group.append(el("option", { value: i.symbol, text: i.symbol }));
      }
      select.append(group);
    }
    const wanted = (new URLSearchParams(location.search).get("symbol") || "").toUpperCase();
    let symbol = wanted && /^[A-Z0-9]{2,10}-[A-Z0-9-]{2,40}$/.test(wanted) ? wanted : null;
    if (symbol && !state.instruments.has(symbol)) {
      // Not (or no longer) listed: offer it anyway, the venue answers for it.
      state.instruments.set(symbol, { symbol });
      select.prepend(el("option", { value: symbol, text: symbol }));
    }
    if (!symbol) {
      symbol = state.instruments.has("BTC-USDT") ? "BTC-USDT"
        : (state.instruments.keys().next().value || null);
    }
    if (symbol) selectSymbol(symbol, false);
  }

  function selectSymbol(symbol, resubscribe = true) {
    const old = state.symbol;
    state.symbol = symbol;
    $("instrument").value = symbol;
    $("book-symbol").textContent = symbol;
    document.title = symbol + " · StrikeFlow";
    const url = new URL(location.href);
    url.searchParams.set("symbol", symbol);
    history.replaceState(null, "", url);
    const i = inst();
    $("order-qty").placeholder = i.min_qty ? "min " + i.min_qty : "0.00";
    $("order-price").placeholder = i.tick_size ? "tick " + i.tick_size : "0.00";
    $("order-hint").textContent = i.tick_size
      ? `tick ${i.tick_size} · lot ${i.lot_size} · min ${i.min_qty}` : "";
    state.book = newBook();
    state.trades = [];
    setTicker({});
    renderBook();
    renderTrades();
    syncForm();
    if (resubscribe && old !== symbol && state.ws && state.ws.readyState === WebSocket.OPEN) {
      const olds = publicChannels(old);
      olds.forEach((c) => delete state.seqs[c]);
      send({ op: "unsubscribe", channels: olds });
      send({ op: "subscribe", channels: publicChannels(symbol) });
    }
  }

  function publicChannels(symbol) {
    return symbol ? ["book." + symbol, "trades." + symbol, "ticker." + symbol] : [];
  }

  async function loadAccount() {
    // Live state comes over the WebSocket; history the feed no longer holds comes from REST.
    const [fills, positions] = await Promise.all([
      api("GET", "/fills?limit=50"), api("GET", "/positions")]);
    if (fills.status === 200 && Array.isArray(fills.body)) {
      fills.body.slice().reverse().forEach((f) => addFill(f, false));
      renderFills();
    }
    if (positions.status === 200 && Array.isArray(positions.body)) {
      positions.body.forEach(setPosition);
      renderPositions();
    }
  }

  async function refreshPortfolio() {
    if (!state.tokens || document.hidden) return;
    const res = await api("GET", "/portfolio");
    const fields = { "pf-equity": "equity", "pf-realized": "realized_pnl",
      "pf-unrealized": "unrealized_pnl", "pf-fees": "fees", "pf-deposits": "net_deposits" };
    const noteEl = $("portfolio-note");
    if (res.status !== 200 || !res.body) {
      noteEl.textContent = res.status === 503
        ? "Balances are unavailable right now (the analytics store does not answer); positions stay live."
        : "Portfolio unavailable: " + (detailText(res.body) || res.status);
      noteEl.hidden = false;
      return;
    }
    const p = res.body;
    noteEl.hidden = true;
    for (const [id, key] of Object.entries(fields)) {
      const node = $(id);
      node.textContent = fmtMoney(p[key]);
      node.className = key.endsWith("pnl") ? signClass(p[key]) : "";
    }
    const ret = p.total_return;
    $("pf-return").textContent = ret === null || ret === undefined ? "–"
      : (Number(ret) * 100).toFixed(3) + " %";
    $("pf-return").className = signClass(ret);
    if (Array.isArray(p.positions)) {
      p.positions.forEach(setPosition);
      renderPositions();
    }
  }

  // -- WebSocket -------------------------------------------------------------------------------
  function wsUrl() {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
  }

  function setStatus(text, cls) {
    const s = $("ws-status");
    s.textContent = text;
    s.className = "status " + cls;
  }

  function send(msg) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) {
      state.ws.send(JSON.stringify(msg));
      return true;
    }
    return false;
  }

  async function connect() {
    closeSocket();
    if (!state.tokens) return;
    if (state.tokens.expires_at - Date.now() < 30000) {
      try { await refreshTokens(); } catch { if (!state.tokens) return; }
    }
    const gen = ++state.wsGen;
    setStatus("connecting", "connecting");
    const ws = new WebSocket(wsUrl());
    state.ws = ws;
    ws.onopen = () => {
      if (gen !== state.wsGen) return;
      state.backoff = 1000;
      state.connects += 1;
      $("ws-status").dataset.connects = String(state.connects);
      setStatus("live", "on");
      send({ op: "auth", token: state.tokens.access_token });
      subscribeAll();
      clearInterval(state.pingTimer);
      state.pingTimer = setInterval(() => send({ op: "ping" }), PING_MS);
    };
    ws.onmessage = (ev) => {
      if (gen !== state.wsGen) return;
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      try { onMessage(msg); } catch (err) { console.error("message not applied", msg, err); }
    };
    ws.onclose = () => {
      if (gen !== state.wsGen) return;
      clearInterval(state.pingTimer);
      state.ws = null;
      if (!state.tokens) { setStatus("offline", "off"); return; }
      const wait = Math.min(state.backoff, 15000) * (0.75 + Math.random() * 0.5);
      state.backoff = Math.min(state.backoff * 2, 15000);
      setStatus("reconnecting", "connecting");
      clearTimeout(state.reconnectTimer);
      state.reconnectTimer = setTimeout(connect, wait);
    };
  }

  function closeSocket() {
    state.wsGen++;
    clearInterval(state.pingTimer);
    clearTimeout(state.reconnectTimer);
    if (state.ws) {
      try { state.ws.close(1000, "bye"); } catch { /* already closed */ }
      state.ws = null;
    }
    setStatus("offline", "off");
  }

  function subscribeAll() {
    const channels = [...publicChannels(state.symbol), ...PRIVATE];
    const since = {};
    for (const c of channels) if (state.seqs[c] !== undefined) since[c] = state.seqs[c];
    state.resumed = new Set(Object.keys(since));
    send({ op: "subscribe", channels, since });
  }

  function resubscribe(channel) {
    delete state.seqs[channel];
    send({ op: "unsubscribe", channels: [channel] });
    send({ op: "subscribe", channels: [channel] });
  }

  function onMessage(msg) {
    if (msg.op) {
      if (msg.op === "error") {
        console.warn("gateway:", msg.error);
        if (/token/i.test(String(msg.error)) && state.tokens
            && Date.now() - state.authRetryAt > 30000) {
          // The socket's token was refused: get a new one and reconnect with it (once a while).
          state.authRetryAt = Date.now();
          refreshTokens().then(connect, () => null);
        }
      } else if (msg.op === "subscribed" && msg.refused && msg.refused.length) {
        console.warn("refused channels", msg.refused);
      }
      return; // pong, heartbeat, authenticated, results
    }
    if (msg.type === "resync") return; // snapshots of every channel follow
    const channel = msg.channel;
    if (!channel) return;
    const resumed = state.resumed.delete(channel);
    if (msg.type === "snapshot") {
      state.seqs[channel] = msg.seq;
    } else {
      const last = state.seqs[channel];
      if (resumed && last !== undefined && msg.seq <= last) {
        // Resumed after seq N, the first update is not after N: the gateway restarted and
        // numbers afresh. Start the channel over from a snapshot.
        resubscribe(channel);
        return;
      }
      if (last !== undefined && msg.seq <= last) return; // seen already
      if (last !== undefined && msg.seq > last + 1) { // a hole: start over from a snapshot
        resubscribe(channel);
        return;
      }
      state.seqs[channel] = msg.seq;
    }
    const snap = msg.type === "snapshot";
    const [kind] = channel.split(".", 1);
    if (channel.includes(".") && channel.slice(kind.length + 1) !== state.symbol) return;
    switch (kind) {
      case "book": return snap ? bookSnapshot(msg.data) : bookDelta(msg.data);
      case "trades": return onTrades(msg.data, snap);
      case "ticker": return setTicker(Array.isArray(msg.data) ? msg.data[msg.data.length - 1] || {} : msg.data);
      case "orders": return onOrders(msg.data, snap);
      case "fills": return onFills(msg.data, snap);
      case "positions": return onPositions(msg.data, snap);
      case "notifications": return onNotes(msg.data, snap);
      default: return undefined;
    }
  }

  // -- the book ----------------------------------------------------------------------------------
  function bookSnapshot(data) {
    const book = newBook();
    state.book = book;
    if (data && !Array.isArray(data) && Array.isArray(data.bids)) {
      loadLevels(book, data);
      scheduleBook();
      return;
    }
    // The channel replayed its deltas instead of a depth snapshot: take the depth from REST
    // and apply what is newer than it.
    book.loading = true;
    book.pending = Array.isArray(data) ? data.slice() : [];
    const symbol = state.symbol;
    api("GET", "/market/book/" + encodeURIComponent(symbol), undefined, { auth: false })
      .then((res) => {
        if (state.book !== book || state.symbol !== symbol) return;
        if (res.status === 200 && res.body) loadLevels(book, res.body);
        book.loading = false;
        book.pending.sort((a, b) => a.engine_seq - b.engine_seq).forEach(bookDelta);
        book.pending = [];
        scheduleBook();
      });
  }

  function loadLevels(book, data) {
    book.bids = new Map((data.bids || []).map(([p, q]) => [String(p), String(q)]));
    book.asks = new Map((data.asks || []).map(([p, q]) => [String(p), String(q)]));
    book.engineSeq = data.engine_seq ?? -1;
  }

  function bookDelta(d) {
    const book = state.book;
    if (!d) return;
    if (book.loading) { book.pending.push(d); return; }
    if (d.engine_seq !== undefined && d.engine_seq <= book.engineSeq) return;
    for (const side of ["bids", "asks"]) {
      for (const [p, q] of d[side] || []) {
        if (Number(q) === 0) book[side].delete(String(p));
        else book[side].set(String(p), String(q));
      }
    }
    if (d.engine_seq !== undefined) book.engineSeq = d.engine_seq;
    scheduleBook();
  }

  function scheduleBook() {
    if (state.bookFrame) return;
    state.bookFrame = requestAnimationFrame(() => { state.bookFrame = 0; renderBook(); });
  }

  function renderBook() {
    const book = state.book;
    const asks = [...book.asks].sort((a, b) => Number(a[0]) - Number(b[0])).slice(0, BOOK_LEVELS);
    const bids = [...book.bids].sort((a, b) => Number(b[0]) - Number(a[0])).slice(0, BOOK_LEVELS);
    const cum = (levels) => {
      let t = 0;
      return levels.map(([p, q]) => { t += Number(q); return [p, q, t]; });
    };
    const a = cum(asks);
    const b = cum(bids);
    const max = Math.max(a.length ? a[a.length - 1][2] : 0, b.length ? b[b.length - 1][2] : 0) || 1;
    const row = (side) => ([p, q, total]) => el("div", {
      class: "level", "data-testid": "book-level", dataset: { price: p, qty: q, side },
      title: side === "ask" ? "click: buy at this price" : "click: sell at this price",
      onclick: () => pickPrice(p, side === "ask" ? "buy" : "sell"),
    }, el("span", { class: "p", text: fmtPrice(p) }), el("span", { text: fmtQty(q) }),
    el("span", { text: fmtQty(total) }),
    el("i", { class: "bar", style: `width:${(100 * total / max).toFixed(1)}%` }));
    $("book-asks").replaceChildren(...a.reverse().map(row("ask")));
    $("book-bids").replaceChildren(...b.map(row("bid")));
    const spread = $("book-spread");
    if (asks.length && bids.length) {
      const bestAsk = Number(asks[0][0]);
      const bestBid = Number(bids[0][0]);
      const mid = (bestAsk + bestBid) / 2;
      spread.replaceChildren(fmtPrice(mid), el("small", { text: "mid" }), el("small", {
        text: "spread " + fmtPrice(bestAsk - bestBid) + " (" + ((bestAsk - bestBid) / mid * 1e4).toFixed(1) + " bp)" }));
    } else {
      spread.replaceChildren(el("small", { text: asks.length || bids.length ? "one-sided book" : "empty book" }));
    }
  }

  function pickPrice(price, side) {
    $("order-price").value = price;
    $("order-side").value = side;
    if ($("order-type").value !== "limit") $("order-type").value = "limit";
    syncForm();
    $("order-qty").focus();
  }

  // -- trades and ticker ---------------------------------------------------------------------------
  function onTrades(data, snap) {
    const list = snap ? (Array.isArray(data) ? data : []) : [data];
    if (snap) state.trades = [];
    const seen = new Set(state.trades.map((t) => t.trade_id));
    for (const t of list) {
      if (!t || seen.has(t.trade_id)) continue;
      seen.add(t.trade_id);
      state.trades.unshift(t);
    }
    state.trades.length = Math.min(state.trades.length, MAX_TRADES);
    renderTrades(snap ? 0 : list.length);
  }

  function renderTrades(fresh = 0) {
    $("trades").replaceChildren(...state.trades.map((t, i) => el("div", {
      class: "trade " + (t.aggressor_side === "sell" ? "sell" : "buy") + (i < fresh ? " new" : ""),
      "data-testid": "trade", dataset: { price: t.price, qty: t.qty },
    }, el("span", { class: "p", text: fmtPrice(t.price) }), el("span", { text: fmtQty(t.qty) }),
    el("span", { class: "t", text: fmtTime(t.ts_event) }))));
  }

  function setTicker(t) {
    t = t || {};
    $("tk-last").textContent = t.last ? fmtPrice(t.last) : "–";
    $("tk-bid").textContent = t.best_bid ? fmtPrice(t.best_bid) : "–";
    $("tk-ask").textContent = t.best_ask ? fmtPrice(t.best_ask) : "–";
    $("tk-volume").textContent = t.volume !== undefined ? fmtQty(t.volume) : "–";
    $("tk-trades").textContent = t.trades !== undefined ? String(t.trades) : "–";
  }

  // -- orders ------------------------------------------------------------------------------------
  function onOrders(data, snap) {
    if (snap) {
      // The open orders; or, from a channel without a snapshot of its own, its recent
      // updates: either way the latest state per order decides whether it is open.
      state.orders.clear();
      const latest = new Map();
      for (const o of Array.isArray(data) ? data : []) if (o && o.client_order_id) latest.set(o.client_order_id, o);
      for (const o of latest.values()) if (OPEN.has(o.status)) state.orders.set(o.client_order_id, o);
      for (const o of latest.values()) trackAnswer(o);
      renderOrders();
      return;
    }
    const o = data;
    if (!o || !o.client_order_id) return;
    if (o.status && OPEN.has(o.status)) state.orders.set(o.client_order_id, o);
    else if (o.status) state.orders.delete(o.client_order_id);
    if (o.event === "cancelled" || o.event === "expired") {
      note({ kind: "order", level: "info", message: `Order ${o.client_order_id} ${o.event}` +
        (o.symbol ? ` (${o.side || ""} ${o.symbol})` : "") });
    } else if (o.event === "rejected" || o.event === "command_rejected") {
      note({ kind: "order", level: "warning", message: `Order ${o.client_order_id}: ${o.event}` +
        (o.reason ? ` – ${o.reason}` : "") + (o.reason_code ? ` (${o.reason_code})` : "") });
    }
    trackAnswer(o);
    renderOrders(o.client_order_id);
  }

  function renderOrders(fresh) {
    const rows = [...state.orders.values()].sort((a, b) =>
      String(b.updated || "").localeCompare(String(a.updated || "")));
    $("open-orders").replaceChildren(...rows.map((o) => el("tr", {
      class: o.client_order_id === fresh ? "new" : "", "data-testid": "open-order",
      dataset: { cid: o.client_order_id, symbol: o.symbol, status: o.status },
    }, el("td", { class: "dim", text: fmtTime(o.updated) }), el("td", { text: o.symbol }),
    el("td", { class: o.side === "sell" ? "sell" : "buy", text: o.side || "" }),
    el("td", { text: o.order_type || "" }), el("td", { text: String(o.time_in_force || "").toUpperCase() }),
    el("td", { class: "num", text: o.price ? fmtOn(o.symbol, o.price, "price") : "market" }),
    el("td", { class: "num", text: fmtOn(o.symbol, o.qty, "qty") }),
    el("td", { class: "num", text: fmtOn(o.symbol, o.filled_qty, "qty") }),
    el("td", { class: "num", text: fmtOn(o.symbol, leaves(o), "qty") }), el("td", { text: o.status }),
    el("td", { class: "dim", text: o.client_order_id }),
    el("td", {}, el("button", { type: "button", class: "ghost small cancel", "data-testid": "cancel-order",
      text: "Cancel", onclick: (ev) => cancelOrder(o, ev.currentTarget) })))));
    $("open-orders-empty").hidden = rows.length > 0;
    $("open-count").textContent = String(rows.length);
  }

  /** What is left of an order: its leaves_qty, or qty less what filled when not given. */
  function leaves(o) {
    if (o.leaves_qty !== undefined && o.leaves_qty !== null) return o.leaves_qty;
    const q = Number(o.qty);
    const f = Number(o.filled_qty || 0);
    return Number.isFinite(q) && Number.isFinite(f) ? String(Math.max(q - f, 0)) : null;
  }

  async function cancelOrder(o, btn) {
    btn.disabled = true;
    btn.textContent = "…";
    const res = await api("DELETE", "/orders/" + encodeURIComponent(o.client_order_id) +
      "?symbol=" + encodeURIComponent(o.symbol));
    if (res.status !== 200 && res.status !== 202) {
      btn.disabled = false;
      btn.textContent = "Cancel";
      note({ kind: "order", level: "error", message: `Cancel of ${o.client_order_id} refused: ` +
        (res.body && res.body.reason ? res.body.reason : detailText(res.body) || res.status) });
    }
  }

  async function cancelAll() {
    const btn = $("cancel-all");
    btn.disabled = true;
    try {
      const res = await api("DELETE", "/orders");
      if (res.status !== 200) {
        note({ kind: "order", level: "error", message: "Cancel all refused: " + (detailText(res.body) || res.status) });
      } else {
        note({ kind: "order", level: "info", message: "Cancel all sent (" + ((res.body && res.body.scope) || "all") + ")" });
      }
    } finally {
      btn.disabled = false;
    }
  }

  // -- order entry -------------------------------------------------------------------------------
  function syncForm() {
    const side = $("order-side").value;
    const market = $("order-type").value === "market";
    const btn = $("order-submit");
    btn.className = "primary side-" + side;
    btn.textContent = (side === "buy" ? "Buy " : "Sell ") + (state.symbol || "") + (market ? " at market" : "");
    $("order-price").disabled = market;
    $("price-row").classList.toggle("disabled", market);
    $("order-post-only").disabled = market;
  }

  function showAnswer(cls, parts, status) {
    const box = $("order-answer");
    box.className = "answer " + cls;
    box.dataset.status = status || cls;
    box.replaceChildren(...parts);
  }

  const DECIMAL = /^(?:\d+\.?\d*|\.\d+)$/;

  async function onPlace(ev) {
    ev.preventDefault();
    const type = $("order-type").value;
    const qty = $("order-qty").value.trim();
    const price = $("order-price").value.trim();
    if (!state.symbol) return showAnswer("rejected", ["Pick an instrument first."], "invalid");
    if (!DECIMAL.test(qty) || Number(qty) <= 0) {
      return showAnswer("rejected", [el("b", { text: "INVALID " }), "quantity: a positive number"], "invalid");
    }
    if (type === "limit" && (!DECIMAL.test(price) || Number(price) <= 0)) {
      return showAnswer("rejected", [el("b", { text: "INVALID " }), "price: a positive number for a limit order"], "invalid");
    }
    const body = { symbol: state.symbol, side: $("order-side").value, type, qty,
      time_in_force: $("order-tif").value, client_order_id: cid() };
    if (type === "limit") body.price = price;
    if (type === "limit" && $("order-post-only").checked) body.post_only = "reject";
    if ($("order-reduce-only").checked) body.reduce_only = true;
    state.last = { cid: body.client_order_id, symbol: body.symbol, status: null, filled: 0, notional: 0 };
    const btn = $("order-submit");
    btn.disabled = true;
    showAnswer("pending", ["Sending ", el("b", { text: `${body.side} ${qty} ${body.symbol}` }), "…"], "sending");
    try {
      const res = await api("POST", "/orders", body);
      renderAnswer(res, body);
    } finally {
      btn.disabled = false;
    }
  }

  function renderAnswer(res, body) {
    const a = res.body || {};
    const last = state.last && state.last.cid === body.client_order_id ? state.last : null;
    const what = `${body.side} ${body.qty} ${body.symbol}` + (body.price ? ` @ ${body.price}` : " at market");
    if (res.status === 200) {
      const status = a.status || "accepted";
      if (last) last.answer = status;
      showAnswer("accepted", [el("b", { class: "answer-status", text: status.toUpperCase() }), " ", what, " ",
        el("br"), el("small", { text: `order ${a.order_id || "?"} · ${a.client_order_id || body.client_order_id}` }),
        el("span", { class: "live" })], status);
    } else if (res.status === 202) {
      if (last) last.answer = "pending";
      showAnswer("pending", [el("b", { class: "answer-status", text: "PENDING" }), " ", what, " ",
        el("br"), el("small", { text: "sent; no decision yet – watching the order feed" }),
        el("span", { class: "live" })], "pending");
    } else if (res.status === 422 && a.status) {
      if (last) last.answer = "rejected";
      showAnswer("rejected", [el("b", { class: "answer-status", text: "REJECTED" }),
        ` code ${a.code ?? "?"}: ${a.reason || "no reason given"} `, el("br"), el("small", { text: what })], "rejected");
    } else {
      if (last) last.answer = "error";
      const label = res.status === 422 ? "INVALID" : res.status === 429 ? "RATE LIMITED"
        : res.status === 401 ? "NOT LOGGED IN" : "ERROR " + res.status;
      showAnswer("rejected", [el("b", { class: "answer-status", text: label }), " ",
        detailText(a) || "no answer"], "error");
    }
    if (last && last.status) trackAnswer({ client_order_id: last.cid, status: last.status, event: last.status });
  }

  function trackAnswer(o) {
    const last = state.last;
    if (!last || o.client_order_id !== last.cid) return;
    if (o.status) last.status = o.status;
    if (o.filled_qty !== undefined) last.filled = o.filled_qty;
    const live = document.querySelector("#order-answer .live");
    if (!live || !last.status) return; // the REST answer is not in yet: it re-applies this
    const box = $("order-answer");
    if (box.dataset.status === "pending" && OPEN.has(last.status)) box.className = "answer accepted";
    if (box.dataset.status === "pending" && last.status === "rejected") box.className = "answer rejected";
    box.dataset.status = last.status;
    live.replaceChildren(" ", el("br"), "now ", el("b", { class: "live-status", text: last.status.replace("_", " ") }),
      last.filled && Number(last.filled) > 0 ? ` · filled ${fmtQty(last.filled)}` : "",
      o.reason ? ` · ${o.reason}` : "");
  }

  // -- fills, positions, notifications ---------------------------------------------------------------
  function fillKey(f) {
    return [f.trade_id, f.client_order_id, f.side].join("|");
  }

  function addFill(f, fresh) {
    if (!f) return false;
    const key = fillKey(f);
    if (state.fills.has(key)) return false;
    state.fills.set(key, { ...f, fresh });
    while (state.fills.size > MAX_FILLS) state.fills.delete(state.fills.keys().next().value);
    return true;
  }

  function onFills(data, snap) {
    const list = snap ? (Array.isArray(data) ? data : []) : [data];
    state.fills.forEach((f) => { f.fresh = false; });
    for (const f of list) {
      if (addFill(f, !snap) && !snap) {
        note({ kind: "fill", level: "fill", ts_event: f.ts_event, message:
          `Filled: ${f.side} ${fmtOn(f.symbol, f.qty, "qty")} ${f.symbol} @ ${fmtOn(f.symbol, f.price, "price")} (${f.liquidity || "?"})` });
      }
    }
    renderFills();
  }

  function renderFills() {
    const rows = [...state.fills.values()].reverse();
    $("fills").replaceChildren(...rows.map((f) => el("tr", {
      class: f.fresh ? "new" : "", "data-testid": "fill",
      dataset: { symbol: f.symbol, side: f.side, price: f.price, qty: f.qty, cid: f.client_order_id },
    }, el("td", { class: "dim", text: fmtTime(f.ts_event) }), el("td", { text: f.symbol }),
    el("td", { class: f.side === "sell" ? "sell" : "buy", text: f.side }),
    el("td", { class: "num", text: fmtOn(f.symbol, f.price, "price") }),
    el("td", { class: "num", text: fmtOn(f.symbol, f.qty, "qty") }),
    el("td", { text: f.liquidity || "" }))));
    $("fills-empty").hidden = rows.length > 0;
  }

  function setPosition(p) {
    if (!p || !p.symbol) return;
    const cur = state.positions.get(p.symbol);
    if (cur && cur.seq !== undefined && p.seq !== undefined && Number(cur.seq) > Number(p.seq)) return;
    state.positions.set(p.symbol, p);
  }

  function onPositions(data, snap) {
    if (snap) state.positions.clear();
    (snap ? (Array.isArray(data) ? data : []) : [data]).forEach(setPosition);
    renderPositions();
  }

  function renderPositions() {
    const rows = [...state.positions.values()].sort((a, b) =>
      (Number(b.qty) !== 0) - (Number(a.qty) !== 0) || a.symbol.localeCompare(b.symbol));
    $("positions").replaceChildren(...rows.map((p) => el("tr", {
      "data-testid": "position", dataset: { symbol: p.symbol, qty: p.qty },
    }, el("td", { text: p.symbol }),
    el("td", { class: "num qty " + signClass(p.qty), text: fmtOn(p.symbol, p.qty, "qty") }),
    el("td", { class: "num", text: fmtOn(p.symbol, p.avg_price, "price") }),
    el("td", { class: "num", text: fmtOn(p.symbol, p.mark_price, "price") }),
    el("td", { class: "num " + signClass(p.unrealized_pnl), text: fmtMoney(p.unrealized_pnl) }),
    el("td", { class: "num " + signClass(p.realized_pnl), text: fmtMoney(p.realized_pnl) }))));
    $("positions-empty").hidden = rows.length > 0;
  }

  function onNotes(data, snap) {
    if (snap) {
      state.notes = state.notes.filter((n) => n.local);
      for (const n of Array.isArray(data) ? data : []) state.notes.unshift({ ...n });
      state.notes.sort((a, b) => (toDate(b.ts_event) || 0) - (toDate(a.ts_event) || 0));
      renderNotes();
    } else {
      note(data, false);
    }
  }

  function note(n, local = true) {
    if (!n) return;
    state.notes.unshift({ ts_event: n.ts_event || new Date().toISOString(), ...n, local });
    state.notes.length = Math.min(state.notes.length, MAX_NOTES);
    renderNotes();
  }

  function renderNotes() {
    $("notifications").replaceChildren(...state.notes.map((n) => el("li", {
      class: String(n.level || "info"), "data-testid": "notification", dataset: { kind: n.kind || "" },
    }, el("span", { class: "t", text: fmtTime(n.ts_event) }),
    el("span", { class: "m" }, el("span", { class: "k", text: n.kind || "" }), String(n.message || "")))));
  }

  function renderAll() {
    renderBook(); renderTrades(); renderOrders(); renderFills(); renderPositions(); renderNotes();
    syncForm();
  }

  // -- wiring --------------------------------------------------------------------------------------
  function showTab(which) {
    const login = which === "login";
    $("login-form").hidden = !login;
    $("register-form").hidden = login;
    $("tab-login").classList.toggle("active", login);
    $("tab-register").classList.toggle("active", !login);
    $("tab-login").setAttribute("aria-selected", String(login));
    $("tab-register").setAttribute("aria-selected", String(!login));
    authMessage("");
  }

  function init() {
    $("login-form").addEventListener("submit", onLogin);
    $("register-form").addEventListener("submit", onRegister);
    $("tab-login").addEventListener("click", () => showTab("login"));
    $("tab-register").addEventListener("click", () => showTab("register"));
    $("logout").addEventListener("click", logout);
    $("order-form").addEventListener("submit", onPlace);
    $("order-side").addEventListener("change", syncForm);
    $("order-type").addEventListener("change", syncForm);
    $("instrument").addEventListener("change", (ev) => selectSymbol(ev.target.value));
    $("cancel-all").addEventListener("click", cancelAll);
    document.addEventListener("visibilitychange", () => {
      if (document.hidden || !state.tokens) return;
      if (state.tokens.expires_at - Date.now() < 60000) refreshTokens().catch(() => null);
      if (!state.ws) connect();
      refreshPortfolio();
    });
    syncForm();
    // A reload of this tab keeps the session: the stored refresh token gets a fresh pair.
    let saved = null;
    try { saved = JSON.parse(sessionStorage.getItem(STORE) || "null"); } catch { saved = null; }
    if (saved && saved.refresh_token) {
      state.tokens = saved;
      authMessage("Resuming your session…");
      refreshTokens().then(enterTrading, () => {
        if (!state.tokens) return;
        endSession("Please log in.");
      });
    } else {
      $("login-username").focus();
    }
  }

  // For operators and tests: drop the live connection as a network failure would (the page
  // reconnects and resumes each channel from the last sequence it saw).
  window.strikeflow = Object.freeze({
    dropSocket() { if (state.ws) state.ws.close(4000, "dropped on purpose"); },
  });

  init();
})();
