"""The dashboard at /: a small page over the query API (no build step, no CDN)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["dashboard"])

_PAGE = """<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>Alliance Watch registry</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;width:100%;font-size:.9rem}
td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left;vertical-align:top}
form{margin:.8rem 0}input,select{margin-right:.4rem}.muted{color:#777}
.stats{display:flex;gap:2rem;flex-wrap:wrap}.stats div{min-width:12rem}
</style></head><body>
<h1>医联体 registry</h1>
<div class="stats" id="stats"></div>
<form id="f">
 <input name="province" placeholder="province 省">
 <input name="city" placeholder="city 市">
 <select name="type"><option value="">any type</option>
  <option>specialty_alliance</option><option>tight_consortium</option>
  <option>consortium</option><option>medical_group</option><option>county_community</option>
  <option>remote_network</option><option>trusteeship</option><option>other</option></select>
 <input name="specialty" placeholder="specialty 专科">
 <input name="q" placeholder="search names">
 <input name="since" type="date"><input name="until" type="date">
 <button>filter</button> <a id="csv" href="/v1/alliances.csv">CSV</a>
 · <a id="graph" href="/v1/network.graphml">GraphML</a> · <a href="/docs">API</a>
</form>
<table><thead><tr><th>date</th><th>type</th><th>lead</th><th>members</th>
<th>provinces</th><th>sources</th></tr></thead><tbody id="rows"></tbody></table>
<p><button id="more" hidden>more</button></p>
<script>
const esc = s => String(s ?? "").replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
let cursor = null, query = "";
function params(){const p=new URLSearchParams();for(const [k,v] of new FormData(document.getElementById("f")))if(v)p.set(k,v);return p}
async function load(reset){
  if(reset){cursor=null;document.getElementById("rows").innerHTML="";query=params().toString();
    document.getElementById("csv").href="/v1/alliances.csv?"+query;
    document.getElementById("graph").href="/v1/network.graphml?"+query;
    const s=await (await fetch("/v1/stats?"+query)).json();
    const block=(t,o)=>`<div><b>${t}</b><br>`+Object.entries(o).slice(0,8).map(([k,v])=>`${esc(k)}: ${v}`).join("<br>")+"</div>";
    document.getElementById("stats").innerHTML=`<div><b>alliances</b><br>${s.total}</div>`+block("by province",s.by_province)+block("by type",s.by_type)+block("by specialty",s.by_specialty);}
  const url="/v1/alliances?limit=50&"+query+(cursor?"&cursor="+encodeURIComponent(cursor):"");
  const page=await (await fetch(url)).json();
  const names=l=>l.map(i=>`<a href="/v1/institutions/${i.id}">${esc(i.name)}</a>`).join("、");
  for(const a of page.items){document.getElementById("rows").insertAdjacentHTML("beforeend",
    `<tr><td>${esc(a.date)}</td><td>${esc(a.type)}<br><span class="muted">${esc(a.specialty)}</span></td>`+
    `<td>${names(a.lead)}</td><td>${names(a.members)}</td><td>${esc(a.provinces.join(" "))}</td>`+
    `<td>${a.sources.map(s=>`<a href="${esc(s.url)}" title="${esc(s.evidence)}">${esc(s.title||s.article_id)}</a>`).join("<br>")}</td></tr>`);}
  cursor=page.next_cursor;document.getElementById("more").hidden=!cursor;
}
document.getElementById("f").onsubmit=e=>{e.preventDefault();load(true)};
document.getElementById("more").onclick=()=>load(false);
load(true);
</script></body></html>
"""


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def dashboard() -> HTMLResponse:
    return HTMLResponse(_PAGE)
