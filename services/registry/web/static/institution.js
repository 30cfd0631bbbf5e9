"use strict";
// The institution page's partner network: the institution in the middle, its partners
// around it, edges as thick as the number of alliances they share.
(() => {
  const element = document.getElementById("graph");
  const note = document.getElementById("graph-note");
  const data = JSON.parse(document.getElementById("graph-data").textContent);
  if (data.truncated) note.textContent = `只显示合作最多的 ${data.partners.length} 家机构。`;
  if (!data.partners.length) {
    AW.unavailable(element, "暂无合作机构。");
    document.body.dataset.graph = "empty";
    return;
  }
  if (!AW.hasECharts()) {
    AW.unavailable(element, AW.missingCharts);
    document.body.dataset.graph = "unavailable";
    return;
  }
  const chart = window.echarts.init(element);
  const maxWeight = Math.max(1, ...data.partners.map((p) => p.weight));
  const provinces = [...new Set(data.partners.map((p) => p.province || "未知"))];
  const categories = [{ name: "本机构" }, ...provinces.map((p) => ({ name: p }))];
  const nodes = [
    { id: data.center.id, name: data.center.name, category: 0, symbolSize: 38,
      label: { show: true, fontWeight: "bold", position: "bottom" } },
    ...data.partners.map((p) => ({
      id: p.id, name: p.name, value: p.weight, category: 1 + provinces.indexOf(p.province || "未知"),
      symbolSize: 12 + 16 * (p.weight / maxWeight), label: { show: data.partners.length <= 25 },
    })),
  ];
  const links = data.partners.map((p) => ({
    source: data.center.id, target: p.id, value: p.weight,
    lineStyle: { width: 1 + 5 * (p.weight / maxWeight) },
  }));
  chart.on("finished", () => { document.body.dataset.graph = "ready"; });
  chart.on("click", (params) => {
    if (params.dataType === "node" && params.data.id !== data.center.id) {
      location.href = `/institutions/${encodeURIComponent(params.data.id)}`;
    }
  });
  chart.setOption({
    tooltip: { formatter: (p) => (p.dataType === "edge"
      ? `共同联盟 ${p.data.value}` : AW.esc(p.name) + (p.value ? `<br>共同联盟 ${p.value}` : "")) },
    legend: { type: "scroll", bottom: 0, data: categories.map((c) => c.name) },
    series: [{
      type: "graph", layout: "force", roam: true, draggable: true, categories,
      force: { repulsion: 320, edgeLength: [90, 180], gravity: 0.06 },
      label: { position: "right", fontSize: 11 },
      lineStyle: { color: "source", opacity: 0.6 },
      data: nodes, links,
    }],
  });
  window.addEventListener("resize", () => chart.resize());
})();
