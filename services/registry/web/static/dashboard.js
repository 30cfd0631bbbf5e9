"use strict";
// The overview at /: filters kept in the URL, a map of China, a monthly timeline and a
// sorted, paged table. Everything is aggregated or paged by the registry (/v1/views/*).
(() => {
  const FILTERS = ["province", "city", "type", "specialty", "since", "until", "q", "institution"];
  const LABELS = { province: "省份", city: "城市", type: "类型", specialty: "专科", since: "起始",
    until: "截止", q: "关键词", institution: "机构" };
  const PAGE_SIZE = 25;
  const MAX_LINES = 200;
  const body = document.body;
  const form = document.getElementById("filters");
  const $ = (id) => document.getElementById(id);
  const state = { filters: {}, sort: "-date", page: 1 };
  const typeLabels = {};
  let generation = 0;
  let mapChart = null;
  let timelineChart = null;
  let lastTimeline = null;
  let lastTotal = null;

  // --- the URL is the state ---------------------------------------------------------
  function readUrl() {
    const params = new URLSearchParams(location.search);
    state.filters = {};
    for (const key of FILTERS) {
      const value = (params.get(key) || "").trim();
      if (value) state.filters[key] = value;
    }
    const sort = params.get("sort") || "-date";
    state.sort = /^-?(date|first_seen|confidence|type|specialty)$/.test(sort) ? sort : "-date";
    const page = parseInt(params.get("page") || "1", 10);
    state.page = Number.isFinite(page) && page > 0 ? page : 1;
  }

  function filterQuery() {
    const params = new URLSearchParams();
    for (const key of FILTERS) if (state.filters[key]) params.set(key, state.filters[key]);
    return params;
  }

  function pageUrl() {
    const params = filterQuery();
    if (state.sort !== "-date") params.set("sort", state.sort);
    if (state.page > 1) params.set("page", String(state.page));
    const text = params.toString();
    return text ? `/?${text}` : "/";
  }

  function writeUrl() {
    const url = pageUrl();
    if (url !== location.pathname + location.search) history.pushState(null, "", url);
  }

  function fillForm() {
    for (const key of FILTERS) {
      const field = form.elements.namedItem(key);
      if (!field) continue;
      const value = state.filters[key] || "";
      if (field.tagName === "SELECT" && value && ![...field.options].some((o) => o.value === value)) {
        field.add(new Option(value, value));
      }
      field.value = value;
    }
  }

  function readForm() {
    const filters = {};
    for (const key of FILTERS) {
      const field = form.elements.namedItem(key);
      const value = field ? String(field.value || "").trim() : (state.filters[key] || "");
      if (value) filters[key] = value;
    }
    return filters;
  }

  // --- data ----------------------------------------------------------------------------
  async function getJson(url) {
    const answer = await fetch(url, { headers: { Accept: "application/json" } });
    if (!answer.ok) {
      let detail = answer.statusText;
      try {
        const body = await answer.json();
        detail = typeof body.detail === "string" ? body.detail
          : (body.detail || []).map((d) => d.msg || JSON.stringify(d)).join("；");
      } catch (e) { /* not JSON */ }
      throw new Error(`${answer.status} ${detail}`);
    }
    return answer.json();
  }

  function showError(message) {
    const box = $("error");
    box.hidden = !message;
    box.textContent = message ? `加载失败：${message}` : "";
  }

  async function loadFacets(province) {
    const query = province ? `?province=${encodeURIComponent(province)}` : "";
    const facets = await getJson(`/v1/views/facets${query}`);
    const provinceSelect = $("f-province");
    if (provinceSelect.options.length <= 1) {
      for (const p of facets.provinces) provinceSelect.add(new Option(p.label, p.value));
      const typeSelect = $("f-type");
      for (const t of facets.types) {
        typeLabels[t.value] = t.label;
        typeSelect.add(new Option(t.label, t.value));
      }
      $("specialty-options").innerHTML = facets.specialties
        .map((s) => `<option value="${AW.esc(s.value)}">${AW.esc(s.label)}（${s.count}）</option>`).join("");
    }
    $("city-options").innerHTML = facets.cities
      .map((c) => `<option value="${AW.esc(c.value)}"></option>`).join("");
  }

  // --- the map -------------------------------------------------------------------------
  function provinceCenters() {
    const centers = {};
    const map = window.echarts.getMap("china");
    const geo = map && (map.geoJSON || map.geoJson);
    for (const feature of (geo && geo.features) || []) {
      const props = feature.properties || {};
      if (props.name && Array.isArray(props.cp)) centers[props.name] = props.cp;
    }
    return centers;
  }

  function whenRendered(chart) {
    return new Promise((resolve) => {
      const done = () => { chart.off("finished", done); resolve(); };
      chart.on("finished", done);
    });
  }

  async function renderMap(data) {
    const element = $("map");
    const top = data.provinces.slice(0, 8).map((p) => `${AW.esc(p.name)} ${p.count}`).join("、");
    $("map-note").innerHTML = data.provinces.length
      ? `涉及 <b id="map-province-count">${data.provinces.length}</b> 个省级地区（${top}${data.provinces.length > 8 ? "…" : ""}）；`
        + `跨省连线 <b id="map-link-count">${data.links.length}</b> 条。`
      : "没有符合条件的联盟。";
    if (!AW.hasECharts() || !AW.hasChinaMap()) {
      if (mapChart) { mapChart.dispose(); mapChart = null; }
      AW.unavailable(element, AW.hasECharts() ? AW.missingMap : AW.missingCharts);
      body.dataset.map = "unavailable";
      return;
    }
    if (!mapChart) {
      element.innerHTML = "";
      mapChart = window.echarts.init(element);
      mapChart.on("click", (params) => {
        if (params.name && (params.componentType === "geo" || params.seriesType === "map")) {
          state.filters.province = params.name;
          delete state.filters.city;
          state.page = 1;
          fillForm();
          writeUrl();
          loadFacets(params.name).catch(() => {});
          refresh();
        }
      });
    }
    const centers = provinceCenters();
    const max = Math.max(1, ...data.provinces.map((p) => p.count));
    const maxLink = Math.max(1, ...data.links.map((l) => l.count));
    const lines = data.links
      .filter((l) => centers[l.source] && centers[l.target])
      .slice(0, MAX_LINES)
      .map((l) => ({
        name: `${l.source} — ${l.target}`,
        value: l.count,
        coords: [centers[l.source], centers[l.target]],
        lineStyle: { width: 1 + 5 * (l.count / maxLink) },
      }));
    const rendered = whenRendered(mapChart);
    mapChart.setOption({
      animation: false,
      tooltip: {
        trigger: "item",
        formatter: (p) => (p.seriesType === "lines"
          ? `${AW.esc(p.name)}<br>跨省联盟 ${p.value}`
          : `${AW.esc(p.name)}<br>联盟 ${Number.isFinite(p.value) ? p.value : 0}`),
      },
      visualMap: {
        type: "continuous", min: 0, max, left: 10, bottom: 10, seriesIndex: 0,
        text: ["多", "少"], calculable: true,
        inRange: { color: ["#e3eef9", "#9cc3e6", "#3a84c4", "#0b3d73"] },
      },
      geo: {
        map: "china", roam: true, zoom: 1.15, top: 30,
        itemStyle: { areaColor: "#f2f4f7", borderColor: "#9aa5b1" },
        emphasis: { label: { show: true }, itemStyle: { areaColor: "#ffd666" } },
      },
      series: [
        { name: "联盟数", type: "map", geoIndex: 0,
          data: data.provinces.map((p) => ({ name: p.name, value: p.count })) },
        { name: "跨省联盟", type: "lines", coordinateSystem: "geo", zlevel: 1,
          lineStyle: { color: "#d1495b", opacity: 0.65, curveness: 0.25 }, data: lines },
      ],
    }, true);
    await rendered;
    body.dataset.map = "ready";
  }

  // --- the timeline -------------------------------------------------------------------
  // The whole date range is always in view: months when they fit the chart with bars a
  // person can see, else quarters, else years. Each type keeps its one colour (the
  // registry's, in every view), whatever the filters leave.
  const MIN_BUCKET_PX = 16;
  const UNITS = [
    { name: "month", title: "按月成立数", key: (y, m) => `${y}-${String(m).padStart(2, "0")}` },
    { name: "quarter", title: "按季度成立数", key: (y, m) => `${y}Q${Math.ceil(m / 3)}` },
    { name: "year", title: "按年成立数", key: (y) => `${y}` },
  ];

  function bucketed(data, width) {
    const parsed = data.months.map((m) => [parseInt(m.slice(0, 4), 10), parseInt(m.slice(5, 7), 10)]);
    let unit = UNITS[UNITS.length - 1];
    let keys = [];
    for (const candidate of UNITS) {
      keys = [...new Set(parsed.map(([y, m]) => candidate.key(y, m)))];
      unit = candidate;
      if (keys.length * MIN_BUCKET_PX <= width) break;
    }
    const index = new Map(keys.map((k, i) => [k, i]));
    const series = data.series.map((s) => {
      const counts = new Array(keys.length).fill(0);
      s.counts.forEach((n, i) => { counts[index.get(unit.key(...parsed[i]))] += n; });
      return { ...s, counts };
    });
    return { unit, keys, series };
  }

  async function renderTimeline(data) {
    lastTimeline = data;
    const element = $("timeline");
    const total = data.series.reduce((n, s) => n + s.counts.reduce((a, b) => a + b, 0), 0);
    $("timeline-note").textContent = data.months.length
      ? `${data.months[0].slice(0, 4)}年${parseInt(data.months[0].slice(5), 10)}月至`
        + `${data.months[data.months.length - 1].slice(0, 4)}年`
        + `${parseInt(data.months[data.months.length - 1].slice(5), 10)}月，共 ${total} 个有成立日期的联盟。`
      : "";
    if (!AW.hasECharts()) {
      AW.unavailable(element, AW.missingCharts);
      body.dataset.timeline = "unavailable";
      return;
    }
    if (!timelineChart) {
      element.innerHTML = "";
      timelineChart = window.echarts.init(element);
    }
    const { unit, keys, series } = bucketed(data, Math.max(200, element.clientWidth - 48));
    $("timeline-title").textContent = unit.title;
    body.dataset.timelineUnit = unit.name;
    const rendered = whenRendered(timelineChart);
    timelineChart.setOption({
      animation: false,
      title: keys.length ? undefined : { text: "没有带日期的联盟", left: "center", top: "middle",
        textStyle: { color: "#6b7785", fontSize: 14, fontWeight: "normal" } },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { type: "scroll", top: 0 },
      grid: { left: 36, right: 12, top: 40, bottom: 28 },
      xAxis: { type: "category", data: keys, axisTick: { alignWithLabel: true } },
      yAxis: { type: "value", minInterval: 1 },
      series: series.map((s) => ({
        name: s.label, type: "bar", stack: "all", barMaxWidth: 28, barCategoryGap: "20%",
        itemStyle: { color: s.color }, data: s.counts,
      })),
    }, true);
    await rendered;
    body.dataset.timeline = "ready";
  }

  // --- the table ------------------------------------------------------------------------
  function names(list, total) {
    if (!list.length) return '<span class="muted">—</span>';
    const links = list.map((i) => `<a href="/institutions/${encodeURIComponent(i.id)}">${AW.esc(i.name)}</a>`);
    const more = total > list.length ? ` <span class="muted">等 ${total} 家</span>` : "";
    return links.join("、") + more;
  }

  function renderTable(data) {
    const rows = data.items.map((a) => `<tr data-id="${AW.esc(a.id)}">
      <td class="nowrap">${AW.esc(a.date || "—")}</td>
      <td><a class="detail-link" href="/alliances/${encodeURIComponent(a.id)}">${AW.esc(a.type_label)}</a></td>
      <td>${AW.esc(a.specialty || "—")}</td>
      <td class="lead">${names(a.lead, a.lead.length)}</td>
      <td>${names(a.members, a.member_count)}</td>
      <td>${a.provinces.map((p) => `<span class="tag">${AW.esc(p)}</span>`).join("")}${a.cross_province ? '<span class="tag cross">跨省</span>' : ""}</td>
      <td class="num">${a.confidence.toFixed(2)}</td>
      <td class="nowrap">${AW.esc(String(a.first_seen).slice(0, 10))}</td>
    </tr>`);
    $("rows").innerHTML = rows.join("")
      || '<tr><td colspan="8" class="muted">没有符合条件的联盟。</td></tr>';
    const key = state.sort.replace(/^-/, "");
    for (const th of document.querySelectorAll("th.sortable")) {
      th.classList.toggle("sorted-desc", th.dataset.sort === key && state.sort.startsWith("-"));
      th.classList.toggle("sorted-asc", th.dataset.sort === key && !state.sort.startsWith("-"));
    }
    $("page-info").textContent = data.pages
      ? `第 ${data.page} / ${data.pages} 页 · 共 ${data.total} 条` : "共 0 条";
    $("prev").disabled = data.page <= 1;
    $("next").disabled = data.page >= data.pages;
  }

  async function loadTable(g) {
    body.dataset.table = "loading";
    const params = filterQuery();
    params.set("sort", state.sort);
    params.set("page", String(state.page));
    params.set("size", String(PAGE_SIZE));
    const data = await getJson(`/v1/views/table?${params}`);
    if (g !== generation) return;
    if (data.pages && state.page > data.pages) {  // a shared link past the last page
      state.page = data.pages;
      history.replaceState(null, "", pageUrl());
      await loadTable(g);
      return;
    }
    renderTable(data);
    body.dataset.table = "ready";
  }

  // --- the whole view ---------------------------------------------------------------------
  function describeFilters(total) {
    const parts = FILTERS.filter((k) => state.filters[k]).map((k) => {
      const v = k === "type" ? (typeLabels[state.filters[k]] || state.filters[k]) : state.filters[k];
      return `${LABELS[k]}：${AW.esc(v)}`;
    });
    return `共 <b id="total">${total}</b> 个联盟` + (parts.length ? `（${parts.join("；")}）` : "");
  }

  async function refresh() {
    const g = ++generation;
    delete body.dataset.ready;
    body.dataset.map = body.dataset.timeline = "loading";
    showError("");
    const query = filterQuery().toString();
    $("csv-link").href = `/v1/alliances.csv${query ? "?" + query : ""}`;
    $("graphml-link").href = `/v1/network.graphml${query ? "?" + query : ""}`;
    const results = await Promise.allSettled([
      getJson(`/v1/views/map?${query}`).then((d) => {
        if (g !== generation) return null;
        lastTotal = d.total;
        $("summary").innerHTML = describeFilters(d.total);
        return renderMap(d);
      }),
      getJson(`/v1/views/timeline?${query}`).then((d) => (g === generation ? renderTimeline(d) : null)),
      loadTable(g),
    ]);
    if (g !== generation) return;
    const failed = results.filter((r) => r.status === "rejected").map((r) => r.reason.message);
    if (failed.length) {
      showError([...new Set(failed)].join("；"));
      $("summary").textContent = "";
    }
    body.dataset.ready = failed.length ? "error" : "ready";
    window.awReadyAt = performance.now();
  }

  async function reloadTable() {
    writeUrl();
    try {
      await loadTable(generation);
      showError("");
    } catch (e) {
      showError(e.message);
    }
  }

  // --- events ---------------------------------------------------------------------------
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const institution = state.filters.institution;
    state.filters = readForm();
    if (institution) state.filters.institution = institution;
    state.page = 1;
    writeUrl();
    refresh();
  });
  $("reset").addEventListener("click", () => {
    state.filters = {};
    state.page = 1;
    state.sort = "-date";
    fillForm();
    writeUrl();
    loadFacets("").catch(() => {});
    refresh();
  });
  $("f-province").addEventListener("change", (event) => {
    loadFacets(event.target.value).catch(() => {});
  });
  for (const th of document.querySelectorAll("th.sortable")) {
    th.addEventListener("click", () => {
      const key = th.dataset.sort;
      state.sort = state.sort === `-${key}` ? key : `-${key}`;
      state.page = 1;
      reloadTable();
    });
  }
  $("prev").addEventListener("click", () => { state.page = Math.max(1, state.page - 1); reloadTable(); });
  $("next").addEventListener("click", () => { state.page += 1; reloadTable(); });
  window.addEventListener("popstate", () => {
    readUrl();
    fillForm();
    refresh();
  });
  window.addEventListener("resize", () => {
    if (mapChart) mapChart.resize();
    if (timelineChart) {
      timelineChart.resize();
      if (lastTimeline) renderTimeline(lastTimeline);  // months, quarters or years anew
    }
  });

  readUrl();
  fillForm();
  refresh();
  loadFacets(state.filters.province || "")
    .then(() => {
      fillForm();
      if (lastTotal !== null && body.dataset.ready === "ready") $("summary").innerHTML = describeFilters(lastTotal);
    })
    .catch((e) => showError(e.message));
})();
