// The bureau portal: the cascading region picker (province → city → county, from the
// gazetteer at /portal/regions.json) and removable region chips. No other script runs.
"use strict";

(function () {
  // Forms that destroy something ask first.
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
  const picker = document.getElementById("region-picker");
  const chips = document.getElementById("regions");
  if (chips) {
    chips.addEventListener("click", (event) => {
      const button = event.target.closest("button.remove");
      if (button) button.closest("li.chip").remove();
    });
  }
  if (!picker || !chips) {
    document.body.dataset.ready = "ready";
    return;
  }
  const province = document.getElementById("pick-province");
  const city = document.getElementById("pick-city");
  const county = document.getElementById("pick-county");
  const add = document.getElementById("pick-add");
  let tree = [];

  function fill(select, first, names) {
    select.replaceChildren(new Option(first, ""));
    names.forEach((name, index) => select.add(new Option(name, String(index))));
    select.disabled = names.length === 0;
  }
  function chosenProvince() {
    return province.value === "" ? null : tree[Number(province.value)];
  }
  function chosenCity() {
    const p = chosenProvince();
    return p && city.value !== "" ? p.cities[Number(city.value)] : null;
  }
  function has(kind, value) {
    return Array.from(chips.querySelectorAll("input[type=hidden]")).some(
      (input) => input.name === kind && input.value === value,
    );
  }
  function chip(kind, label, value) {
    if (has(kind, value)) return;
    const li = document.createElement("li");
    li.className = "chip";
    li.dataset.kind = kind;
    li.append(`${label}：${value}`);
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = kind;
    input.value = value;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "remove";
    remove.setAttribute("aria-label", "移除");
    remove.textContent = "×";
    li.append(input, remove);
    chips.append(li);
  }

  province.addEventListener("change", () => {
    const p = chosenProvince();
    fill(city, "（整个省）", p ? p.cities.map((c) => c.name) : []);
    fill(county, "（整个市）", []);
    add.disabled = !p;
  });
  city.addEventListener("change", () => {
    const c = chosenCity();
    fill(county, c && c.pick ? "（整个市）" : "选择区县…", c ? c.counties : []);
  });
  add.addEventListener("click", () => {
    const p = chosenProvince();
    const c = chosenCity();
    if (!p) return;
    if (c && county.value !== "") {
      chip("counties", "区县", c.counties[Number(county.value)]);
    } else if (c && c.pick) {
      chip("cities", "市", c.name);
    } else if (!c) {
      chip("provinces", "省", p.name);
    }
  });

  fetch(picker.dataset.regions, { credentials: "same-origin" })
    .then((answer) => {
      if (!answer.ok) throw new Error(`regions: HTTP ${answer.status}`);
      return answer.json();
    })
    .then((data) => {
      tree = data;
      fill(province, "选择省份…", tree.map((p) => p.name));
      document.body.dataset.ready = "ready";
    })
    .catch((error) => {
      picker.append(document.createTextNode("地区列表加载失败，请刷新页面重试。"));
      document.body.dataset.ready = "failed";
      console.error(error);
    });
})();
