"use strict";
// The analysts' review: the panel beside an alliance's evidence (on /alliances/{id}, shown
// only to a signed-in analyst) and the queue at /review/ with its keys (j/k next/previous,
// c confirm, r reject with a note, e edit, o open, Esc close). Actions are form posts sent
// with fetch, each carrying the session's CSRF token; the registry answers with the panel
// after the action, or with the reason it refused it, which the panel shows.
(() => {
  const body = document.body;
  const $ = (id) => document.getElementById(id);
  const STATUS = { confirmed: "已确认", corrected: "已更正", rejected: "已驳回", unreviewed: "待审核" };

  // --- the panel ---------------------------------------------------------------------
  function box(root) { return root.querySelector("#review-box"); }

  function showError(root, text) {
    const element = root.querySelector("#review-error");
    if (!element) return;
    element.textContent = text;
    element.hidden = !text;
  }

  const TOGGLED = ["review-reject-form", "review-edit-form"];

  function openForm(root, id) {
    for (const other of TOGGLED) {
      const form = root.querySelector(`#${other}`);
      if (form) form.hidden = other !== id;
    }
    const form = root.querySelector(`#${id}`);
    if (!form) return;
    const first = form.querySelector("input[type=text], textarea, select");
    if (first) first.focus();
  }

  function closeForms(root) {
    const focused = document.activeElement;
    if (focused && focused !== document.body && root.contains(focused)) focused.blur();
    for (const other of TOGGLED) {
      const form = root.querySelector(`#${other}`);
      if (form) form.hidden = true;
    }
  }

  async function submit(root, form, options) {
    const data = new URLSearchParams(new FormData(form));
    const url = form.getAttribute("action") + (options.evidence ? "?evidence=1" : "");
    const kind = form.dataset.kind;
    showError(root, "");
    body.dataset.review = "busy";
    for (const button of root.querySelectorAll("button")) button.disabled = true;
    let answer;
    try {
      answer = await fetch(url, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
    } catch (error) {
      fail(root, `网络错误，操作未完成：${error.message || error}`);
      return;
    }
    let payload = null;
    try { payload = await answer.json(); } catch (error) { payload = null; }
    if (!answer.ok) {
      if (answer.status === 401 && payload && payload.login) {
        location.href = `${payload.login}?next=${encodeURIComponent(location.pathname)}`;
        return;
      }
      const reason = payload && payload.detail ? detailText(payload.detail) : answer.statusText;
      fail(root, `操作未完成（HTTP ${answer.status}）：${reason}`);
      return;
    }
    render(root, payload.panel, options);
    if (options.refresh) await options.refresh();
    body.dataset.lastAction = kind;
    body.dataset.review = "ready";
    if (options.onDone) options.onDone(kind, payload.status);
  }

  function detailText(detail) {
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) return detail.map((d) => d.msg || JSON.stringify(d)).join("；");
    return JSON.stringify(detail);
  }

  function fail(root, text) {
    for (const button of root.querySelectorAll("button")) button.disabled = false;
    showError(root, text);
    body.dataset.review = "error";
  }

  function bind(root, options) {
    const panel = box(root);
    if (!panel) return;
    const on = (id, handler) => { const element = root.querySelector(`#${id}`); if (element) element.addEventListener("click", handler); };
    on("review-reject-open", () => openForm(root, "review-reject-form"));
    on("review-edit-open", () => openForm(root, "review-edit-form"));
    for (const button of root.querySelectorAll("form.review-form button.cancel")) {
      button.addEventListener("click", () => closeForms(root));
    }
    for (const form of root.querySelectorAll("form.review-form")) {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        if (body.dataset.review === "busy") return;
        submit(root, form, options);
      });
    }
  }

  function render(root, html, options) {
    root.innerHTML = html;
    bind(root, options);
  }

  // Keys a panel understands, wherever it is.
  function panelKey(root, key, options) {
    const panel = box(root);
    if (!panel || body.dataset.review === "busy") return false;
    if (key === "c") {
      const form = root.querySelector("#review-confirm-form");
      if (form) submit(root, form, options);
      return true;
    }
    if (key === "r") { openForm(root, "review-reject-form"); return true; }
    if (key === "e") { openForm(root, "review-edit-form"); return true; }
    if (key === "Escape") { closeForms(root); return true; }
    return false;
  }

  function typing(event) {
    const target = event.target;
    if (!target || !target.tagName) return false;
    return ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName) || target.isContentEditable;
  }

  async function loadPanel(root, id, evidence) {
    const url = `/review/alliances/${encodeURIComponent(id)}/panel${evidence ? "?evidence=1" : ""}`;
    const answer = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (answer.status === 204) return false;
    if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
    return await answer.text();
  }

  // --- on an alliance's page -----------------------------------------------------------
  // The alliance's facts and evidence as the registry now has them, after a correction.
  async function refreshFacts() {
    try {
      const answer = await fetch(location.pathname, { credentials: "same-origin" });
      if (!answer.ok) return;
      const fresh = new DOMParser().parseFromString(await answer.text(), "text/html");
      for (const id of ["title", "facts-panel", "sources"]) {
        const now = $(id);
        const then = fresh.getElementById(id);
        if (now && then) now.innerHTML = then.innerHTML;
      }
      document.title = fresh.title;
    } catch (error) {
      // the panel already says what was done; the facts show on the next visit
    }
  }

  async function alliancePage(aside) {
    const options = { evidence: false, refresh: refreshFacts };
    let html;
    try {
      html = await loadPanel(aside, aside.dataset.alliance, false);
    } catch (error) {
      body.dataset.review = "none";
      return;
    }
    if (html === false) {  // nobody signed in: the page stays as the public sees it
      body.dataset.review = "none";
      return;
    }
    render(aside, html, options);
    aside.hidden = false;
    const layout = $("evidence-layout");
    if (layout) layout.classList.add("reviewing");
    body.dataset.review = "ready";
    document.addEventListener("keydown", (event) => {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      if (typing(event) && event.key !== "Escape") return;
      if (panelKey(aside, event.key, options)) event.preventDefault();
    });
  }

  // --- the queue ----------------------------------------------------------------------------
  function queuePage(list) {
    const detail = $("queue-detail");
    const items = () => [...list.querySelectorAll("li.queue-item")];
    let current = -1;
    let loading = 0;

    function mark(item, status) {
      item.dataset.status = status;
      const label = item.querySelector(".qi-status");
      if (label) label.textContent = STATUS[status] || status;
    }

    const options = {
      evidence: true,
      onDone(kind, status) {
        const item = items()[current];
        if (item) mark(item, status || kind);
        if (kind === "confirm" || kind === "reject") {
          const next = items().findIndex((it, i) => i > current && it.dataset.status === "unreviewed");
          if (next !== -1) select(next);
        }
      },
    };

    async function select(index) {
      const all = items();
      if (!all.length) return;
      index = Math.max(0, Math.min(all.length - 1, index));
      all.forEach((item, i) => {
        item.classList.toggle("current", i === index);
        if (i === index) item.setAttribute("aria-current", "true"); else item.removeAttribute("aria-current");
      });
      current = index;
      const item = all[index];
      item.scrollIntoView({ block: "nearest" });
      body.dataset.current = item.dataset.id;
      body.dataset.review = "busy";
      const mine = ++loading;
      let html;
      try {
        html = await loadPanel(detail, item.dataset.id, true);
      } catch (error) {
        if (mine !== loading) return;
        detail.innerHTML = `<p class="error">无法加载此条目：${AW.esc(error.message)}</p>`;
        body.dataset.review = "error";
        return;
      }
      if (mine !== loading) return;
      if (html === false) { location.href = "/review/login?msg=expired"; return; }
      render(detail, html, options);
      body.dataset.review = "ready";
    }

    list.addEventListener("click", (event) => {
      const item = event.target.closest("li.queue-item");
      if (!item || event.target.closest("a")) return;
      select(items().indexOf(item));
    });
    document.addEventListener("keydown", (event) => {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      if (typing(event) && event.key !== "Escape") return;
      const key = event.key;
      if (key === "j" || key === "ArrowDown") { select(current + 1); event.preventDefault(); return; }
      if (key === "k" || key === "ArrowUp") { select(current < 0 ? 0 : current - 1); event.preventDefault(); return; }
      if (key === "o") {
        const item = items()[current];
        if (item) location.href = `/alliances/${encodeURIComponent(item.dataset.id)}`;
        return;
      }
      if (current >= 0 && panelKey(detail, key, options)) event.preventDefault();
    });
    if (items().length) select(0); else body.dataset.review = "empty";
  }

  const aside = $("review-panel");
  if (aside && aside.dataset.alliance) alliancePage(aside);
  const list = $("queue");
  if (list) queuePage(list);
})();
