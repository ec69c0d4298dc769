// gisplan web map: MapLibre GL JS over the app's own vector tiles. No request leaves the server
// unless an online basemap is configured (GISPLAN_BASEMAP_URL). The page knows no layer by itself:
// it draws what /api/map/config lists for the caller's role, so a public page never names a
// restricted layer. Every value from the data (names, streets, codes) reaches the page as text
// (textContent, DOM nodes), never as HTML.
"use strict";

const TEXT = {
  zh: {
    search: "搜索小区", searchHint: "输入小区名称", colourBy: "小区着色", byStage: "按改造阶段", byGap: "按服务缺口",
    catchment: "显示步行生活圈", catchmentLegend: (r) => `步行生活圈（${r} 米）`, layers: "图层", legend: "图例", token: "规划人员令牌（Bearer token）",
    cancel: "取消", signIn: "登录", login: "规划人员登录", logout: "退出登录", public: "公众", planner: "规划人员",
    admin: "管理员", noResult: "未找到", notInProgramme: "未列入改造计划", gaps: "服务缺口（最近一次分析）",
    facility: "设施", distance: "步行距离", radius: "服务半径", covered: "满足", uncovered: "缺口",
    unreachable: "无法到达", notAnalysed: "尚未分析该类设施：运行 gisplan gaps", badToken: "令牌无效",
    compounds: "小区", facilities: "设施", cluster: "设施聚合（数字为个数，点击放大）", nearest: "最近设施", metres: "米", gapCount: (u, n) => `${n} 个小区中 ${u} 个在服务半径外`,
    basis: { network: "路网步行距离", euclidean: "直线距离（无路网）" }, stage: "改造阶段",
    progress: (y, m) => `改造进度（${y} 年度，${m}）`, street: "街道", projects: "项目", started: "已开工",
    finished: "已完工", overdue: "滞后", overdueLegend: "滞后项目（粗边框）", daysBehind: (d, s) => `滞后 ${d} 天（应达到：${s}）`,
    acceptance: "综合验收（公示）", accepted: (d, s) => `通过 · ${d} · 得分 ${s}`, beforeAfter: "改造前后对比", before: "改造前", after: "改造后",
    notice: "公示", noticePeriod: (a, b) => `公示期 ${a} 至 ${b}`, feedback: "居民意见（已公开）", rating: (r) => `满意度 ${r}/5`, reply: "答复",
  },
  en: {
    search: "Find a compound", searchHint: "compound name", colourBy: "Colour compounds", byStage: "by renovation stage",
    byGap: "by service gap", catchment: "show the walking catchment", catchmentLegend: (r) => `walking catchment (${r} m)`, layers: "Layers", legend: "Legend",
    token: "Planner token (Bearer)", cancel: "Cancel", signIn: "Sign in", login: "Planner sign-in", logout: "Sign out",
    public: "public", planner: "planner", admin: "admin", noResult: "not found", notInProgramme: "not in the programme",
    gaps: "Service gaps (latest analysis)", facility: "Facility", distance: "Walk", radius: "Radius", covered: "covered",
    uncovered: "gap", unreachable: "unreachable", notAnalysed: "not analysed yet: run gisplan gaps", badToken: "invalid token",
    compounds: "Compounds", facilities: "Facilities", cluster: "facilities clustered (count; click to zoom)", nearest: "Nearest", metres: "m",
    gapCount: (u, n) => `${u} of ${n} compounds outside the radius`,
    basis: { network: "walking distance on the network", euclidean: "straight line (no roads)" }, stage: "Stage",
    progress: (y, m) => `Programme ${y}, ${m}`, street: "Street", projects: "Projects", started: "Started",
    finished: "Finished", overdue: "Overdue", overdueLegend: "overdue (thick outline)", daysBehind: (d, s) => `${d} days behind (due: ${s})`,
    acceptance: "Final acceptance (public notice)", accepted: (d, s) => `passed · ${d} · score ${s}`, beforeAfter: "Before / after", before: "before", after: "after",
    notice: "Public notice", noticePeriod: (a, b) => `open ${a} to ${b}`, feedback: "Residents' feedback (published)", rating: (r) => `satisfaction ${r}/5`, reply: "Reply",
  },
};

const state = {
  lang: localStorage.getItem("gisplan.lang") || "zh",
  token: sessionStorage.getItem("gisplan.token") || null,
  config: null,
  map: null,
  mode: "stage",
  facility: null,
  gapIds: [],
  progress: null,
};
const $ = (id) => document.getElementById(id);
const t = (key) => TEXT[state.lang][key];
const label = (obj) => (obj ? obj[state.lang] || obj.zh : "");

async function api(path) {
  const headers = state.token ? { Authorization: `Bearer ${state.token}` } : {};
  const response = await fetch(path, { headers });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    const error = new Error(problem.detail || response.statusText);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

function codeLabel(list, code) {
  const codes = state.config.codes[list];
  const entry = codes && Object.hasOwn(codes, code) ? codes[code] : null;
  return entry ? label(entry) : code;
}

// ---- style ---------------------------------------------------------------------------------
function matchColour(property, table, fallback) {
  const expr = ["match", ["coalesce", ["get", property], ""]];
  for (const [code, colour] of Object.entries(table)) {
    if (code !== "other" && code !== "none") expr.push(code, colour);
  }
  expr.push(fallback);
  return expr;
}

function compoundFill() {
  const sym = state.config.symbology;
  if (state.mode === "gap") {
    const g = sym.gap;
    return ["match", ["coalesce", ["feature-state", "gap"], "unknown"],
      "covered", g.covered.color, "uncovered", g.uncovered.color, "unreachable", g.unreachable.color, g.unknown.color];
  }
  return matchColour("stage", sym.stage, sym.stage.none);
}

function buildStyle() {
  const cfg = state.config;
  const sym = cfg.symbology;
  const origin = window.location.origin;
  const sources = {};
  const layers = [{ id: "background", type: "background", paint: { "background-color": sym.basemap.background } }];
  if (cfg.basemap) {
    sources.basemap = { type: "raster", tiles: [cfg.basemap.tiles], tileSize: 256, attribution: cfg.basemap.attribution || "" };
    layers.push({ id: "basemap", type: "raster", source: "basemap" });
  }
  for (const layer of cfg.layers) {
    sources[layer.id] = { type: "vector", tiles: [origin + layer.tiles], minzoom: 0, maxzoom: 18, attribution: cfg.attribution };
  }
  const has = (id) => cfg.layers.some((l) => l.id === id);
  if (has("water")) {
    layers.push({ id: "water-fill", type: "fill", source: "water", "source-layer": "water",
      filter: ["==", ["geometry-type"], "Polygon"], paint: { "fill-color": sym.basemap.water.fill } });
    layers.push({ id: "water-line", type: "line", source: "water", "source-layer": "water",
      filter: ["==", ["geometry-type"], "LineString"],
      paint: { "line-color": sym.basemap.water.stroke, "line-width": ["interpolate", ["linear"], ["zoom"], 11, 1, 16, 4] } });
  }
  if (has("buildings")) {
    layers.push({ id: "buildings", type: "fill", source: "buildings", "source-layer": "buildings", minzoom: 13,
      paint: { "fill-color": sym.basemap.buildings.fill, "fill-outline-color": sym.basemap.buildings.stroke } });
  }
  if (has("roads")) {
    const width = (k) => ["interpolate", ["linear"], ["zoom"], 11, 0.5 * k, 14, 2 * k, 17, 7 * k];
    layers.push({ id: "roads-casing", type: "line", source: "roads", "source-layer": "roads",
      layout: { "line-cap": "round", "line-join": "round" },
      paint: { "line-color": sym.basemap.roads.casing, "line-width": width(1.6) } });
    layers.push({ id: "roads", type: "line", source: "roads", "source-layer": "roads",
      layout: { "line-cap": "round", "line-join": "round" }, paint: { "line-color": sym.basemap.roads.major, "line-width": width(1) } });
  }
  sources.catchment = { type: "geojson", data: { type: "FeatureCollection", features: [] } };
  layers.push({ id: "catchment", type: "fill", source: "catchment",
    paint: { "fill-color": sym.catchment.fill, "fill-opacity": sym.catchment.opacity, "fill-outline-color": sym.catchment.stroke } });
  if (has("compounds")) {
    layers.push({ id: "compounds-fill", type: "fill", source: "compounds", "source-layer": "compounds",
      filter: ["==", ["geometry-type"], "Polygon"], paint: { "fill-color": compoundFill(), "fill-opacity": 0.72 } });
    layers.push({ id: "compounds-line", type: "line", source: "compounds", "source-layer": "compounds",
      filter: ["==", ["geometry-type"], "Polygon"],
      paint: { "line-color": ["case", ["boolean", ["feature-state", "overdue"], false], sym.overdue, "#5a1a12"],
        "line-width": ["case", ["boolean", ["feature-state", "overdue"], false], 3, 1] } });
    layers.push({ id: "compounds-point", type: "circle", source: "compounds", "source-layer": "compounds",
      filter: ["==", ["geometry-type"], "Point"],
      paint: { "circle-color": compoundFill(), "circle-radius": 7, "circle-stroke-color": "#5a1a12", "circle-stroke-width": 1 } });
  }
  if (has("pipelines")) {
    layers.push({ id: "pipelines", type: "line", source: "pipelines", "source-layer": "pipelines", minzoom: 13,
      paint: { "line-color": matchColour("kind", sym.pipeline_kind, sym.pipeline_kind.other), "line-width": 1.6,
        "line-dasharray": ["case", ["==", ["get", "laying"], "overhead"], ["literal", [2, 1]], ["literal", [1, 0]]] } });
  }
  if (has("facilities")) {
    // a facility's site (a polygon) is drawn once, filled and outlined in its type's colour, from the
    // tiles; its points come as GeoJSON (loadFacilityPoints) and are clustered where they crowd, each
    // cluster counting its facilities per type (a circle layer on the tiles would put a dot on every
    // vertex of a polygon)
    const facilityColour = matchColour("type", sym.facility_type, sym.facility_type.other);
    const polygon = ["in", ["geometry-type"], ["literal", ["Polygon", "MultiPolygon"]]];
    layers.push({ id: "facilities-fill", type: "fill", source: "facilities", "source-layer": "facilities",
      filter: polygon, paint: { "fill-color": facilityColour, "fill-opacity": 0.45 } });
    layers.push({ id: "facilities-line", type: "line", source: "facilities", "source-layer": "facilities",
      filter: polygon, paint: { "line-color": facilityColour, "line-width": 2 } });
    const perType = {};
    for (const code of Object.keys(cfg.codes.facility_type || {})) {
      perType[`n_${code}`] = ["+", ["case", ["==", ["get", "type"], code], 1, 0]];
    }
    sources["facility-points"] = { type: "geojson", data: { type: "FeatureCollection", features: [] },
      cluster: true, clusterRadius: 28, clusterMaxZoom: 15, clusterProperties: perType };
    layers.push({ id: "facility-clusters", type: "circle", source: "facility-points", filter: ["has", "point_count"],
      paint: { "circle-color": sym.cluster.fill, "circle-opacity": 0.85, "circle-stroke-color": sym.cluster.stroke,
        "circle-stroke-width": 1.5, "circle-radius": ["step", ["get", "point_count"], 11, 10, 15, 100, 20, 1000, 26] } });
    layers.push({ id: "facility-cluster-count", type: "symbol", source: "facility-points", filter: ["has", "point_count"],
      layout: { "text-field": ["get", "point_count_abbreviated"], "text-size": 12, "text-allow-overlap": true },
      paint: { "text-color": sym.cluster.text } });
    layers.push({ id: "facilities", type: "circle", source: "facility-points", filter: ["!", ["has", "point_count"]],
      paint: { "circle-color": facilityColour,
        "circle-radius": ["interpolate", ["linear"], ["zoom"], 11, 3, 16, 7], "circle-stroke-color": "#fff", "circle-stroke-width": 1.2 } });
  }
  if (has("compounds")) {
    // no glyph server: MapLibre draws the labels with the browser's own fonts (offline)
    layers.push({ id: "compounds-label", type: "symbol", source: "compounds", "source-layer": "compounds", minzoom: 14,
      layout: { "text-field": ["get", "name"], "text-size": 13, "text-max-width": 8 },
      paint: { "text-color": "#3b0f0a", "text-halo-color": "#fff", "text-halo-width": 1.5 } });
  }
  return { version: 8, sources, layers };
}

// ---- panel ---------------------------------------------------------------------------------
function translatePage() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  $("title").textContent = label(state.config.title);
  document.title = `${label(state.config.title)} · gisplan`;
  $("lang").textContent = state.lang === "zh" ? "EN" : "中文";
  $("login").textContent = state.token ? t("logout") : t("login");
  $("role-badge").textContent = t(state.config.role);
  fillFacilitySelect();
  fillLayerList();
  renderLegend();
  updateGapNote();
  if (state.map) renderProgress();
}

function fillFacilitySelect() {
  const select = $("facility");
  const types = Object.keys(state.config.gaps);
  const all = Object.keys(state.config.codes.facility_type);
  const ordered = [...types, ...all.filter((c) => !types.includes(c))];
  select.replaceChildren();
  for (const code of ordered) {
    const option = document.createElement("option");
    option.value = code;
    option.textContent = codeLabel("facility_type", code) + (types.includes(code) ? "" : " –");
    select.appendChild(option);
  }
  state.facility = state.facility || types[0] || all[0];
  select.value = state.facility;
}

const LAYER_STYLE_IDS = {
  compounds: ["compounds-fill", "compounds-line", "compounds-point", "compounds-label"],
  roads: ["roads", "roads-casing"],
  water: ["water-fill", "water-line"],
  facilities: ["facilities", "facilities-fill", "facilities-line", "facility-clusters", "facility-cluster-count"],
};

function fillLayerList() {
  const list = $("layer-list");
  list.replaceChildren();
  for (const layer of state.config.layers) {
    const row = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = true;
    box.dataset.layer = layer.id;
    box.addEventListener("change", () => {
      for (const id of LAYER_STYLE_IDS[layer.id] || [layer.id]) {
        if (state.map.getLayer(id)) state.map.setLayoutProperty(id, "visibility", box.checked ? "visible" : "none");
      }
    });
    row.append(box, " ", label(layer.label));
    list.appendChild(row);
  }
}

function legendRow(colour, text, kind = "") {
  const row = document.createElement("div");
  row.className = "legend-row";
  const swatch = document.createElement("span");
  swatch.className = `swatch ${kind}`;
  swatch.style.background = colour;
  row.append(swatch, text);
  return row;
}

function renderLegend() {
  const box = $("legend");
  const sym = state.config.symbology;
  box.replaceChildren();
  const title = (text) => { const h = document.createElement("div"); h.className = "note"; h.textContent = text; box.appendChild(h); };
  if (state.mode === "gap") {
    title(`${t("compounds")} · ${codeLabel("facility_type", state.facility)}`);
    for (const key of ["covered", "uncovered", "unreachable", "unknown"]) box.appendChild(legendRow(sym.gap[key].color, label(sym.gap[key])));
  } else {
    title(`${t("compounds")} · ${t("stage")}`);
    for (const code of Object.keys(state.config.codes.stage)) box.appendChild(legendRow(sym.stage[code], codeLabel("stage", code)));
    box.appendChild(legendRow(sym.stage.none, t("notInProgramme")));
    if (state.progress) box.appendChild(legendRow(sym.overdue, t("overdueLegend"), "line"));
  }
  const gap = state.config.gaps[state.facility];
  if ($("catchment").checked) {
    box.appendChild(legendRow(sym.catchment.fill, `${codeLabel("facility_type", state.facility)} ${t("catchmentLegend")(gap ? gap.radius_m : "?")}${gap ? statusMark(gap.radius_status) : ""}`));
  }
  title(t("facilities"));
  for (const code of Object.keys(state.config.facility_counts || {})) {
    box.appendChild(legendRow(sym.facility_type[code] || sym.facility_type.other, codeLabel("facility_type", code), "dot"));
  }
  if (Object.keys(state.config.facility_counts || {}).length) box.appendChild(legendRow(sym.cluster.fill, t("cluster"), "dot"));
  const pipes = state.config.layers.find((l) => l.id === "pipelines");
  if (pipes) {
    title(label(pipes.label));
    for (const [code, colour] of Object.entries(sym.pipeline_kind)) {
      if (code !== "other") box.appendChild(legendRow(colour, codeLabel("pipeline_kind", code), "line"));
    }
  }
}

// The marker a radius whose status is doubtful (weak, superseded, unverified, unknown) carries, as text.
function statusMark(status) {
  const s = (state.config.statuses || {})[status || "unverified"];
  if (s && !s.doubtful) return "";
  return `（${s ? `${s.zh} / ${s.en}` : String(status)}）`;
}

function updateGapNote() {
  const gap = state.config.gaps[state.facility];
  const note = $("gap-note");
  if (state.mode !== "gap") { note.textContent = ""; return; }
  note.textContent = gap ? `${t("radius")} ${gap.radius_m} ${t("metres")}${statusMark(gap.radius_status)} · ${TEXT[state.lang].gapCount(gap.uncovered, gap.compounds)}` : t("notAnalysed");
}

// ---- gaps, catchments ----------------------------------------------------------------------
async function showGaps() {
  const map = state.map;
  for (const id of state.gapIds) map.removeFeatureState({ source: "compounds", sourceLayer: "compounds", id }, "gap");
  state.gapIds = [];
  if (state.mode === "gap" && state.config.gaps[state.facility]) {
    const data = await api(`/api/map/gaps/${encodeURIComponent(state.facility)}`);
    for (const [id, r] of Object.entries(data.compounds)) {
      const gap = r.covered ? "covered" : r.distance_m === null ? "unreachable" : "uncovered";
      map.setFeatureState({ source: "compounds", sourceLayer: "compounds", id: Number(id) }, { gap });
      state.gapIds.push(Number(id));
    }
  }
  document.body.dataset.colour = state.mode === "gap" ? `gap:${state.facility}` : "stage";
  for (const id of ["compounds-fill", "compounds-point"]) {
    if (map.getLayer(id)) map.setPaintProperty(id, id.endsWith("fill") ? "fill-color" : "circle-color", compoundFill());
  }
  renderLegend();
  updateGapNote();
}

async function showCatchment() {
  const source = state.map.getSource("catchment");
  if (!$("catchment").checked) { source.setData({ type: "FeatureCollection", features: [] }); renderLegend(); return; }
  try {
    const data = await api(`/api/map/catchments/${encodeURIComponent(state.facility)}`);
    source.setData(data);
    document.body.dataset.catchment = `${state.facility}:${data.features.length}`;
  } catch (error) {
    $("gap-note").textContent = error.message;
  }
  renderLegend();
}

// ---- progress (planners) -------------------------------------------------------------------
async function showProgress() {
  if (!state.config.progress) return;
  try {
    state.progress = await api("/api/map/progress");
  } catch (error) {
    if (error.status === 404) return; // no programme yet
    throw error;
  }
  for (const [id, p] of Object.entries(state.progress.compounds)) {
    state.map.setFeatureState({ source: "compounds", sourceLayer: "compounds", id: Number(id) }, { overdue: p.overdue });
  }
  renderProgress();
  renderLegend();
  document.body.dataset.progress = String(Object.values(state.progress.compounds).filter((p) => p.overdue).length);
}

function renderProgress() {
  const box = $("progress");
  if (!state.progress) { box.hidden = true; return; }
  box.hidden = false;
  $("progress-title").textContent = t("progress")(state.progress.year, state.progress.month);
  const table = document.createElement("table");
  const head = table.insertRow();
  for (const key of ["street", "projects", "started", "finished", "overdue"]) {
    const th = document.createElement("th"); th.textContent = t(key); head.appendChild(th);
  }
  for (const s of state.progress.streets) {
    const tr = table.insertRow();
    for (const v of [s.street, s.projects, s.started, s.finished, s.overdue]) tr.insertCell().textContent = v;
    if (s.overdue) tr.lastChild.className = "gap-bad";
  }
  const body = $("progress-body");
  body.replaceChildren();
  body.appendChild(table);
}

// ---- info, search --------------------------------------------------------------------------
function row(table, name, value) {
  if (value === null || value === undefined || value === "") return;
  const tr = table.insertRow();
  const th = document.createElement("th");
  th.textContent = name;
  const td = tr.insertCell();
  td.textContent = value;
  tr.prepend(th);
}

async function showCompound(id, properties) {
  const layer = state.config.layers.find((l) => l.id === "compounds");
  const body = $("info-body");
  body.replaceChildren();
  const h = document.createElement("h3");
  h.textContent = properties.name || `#${id}`;
  body.appendChild(h);
  const table = document.createElement("table");
  for (const field of layer.fields) {
    if (field.id === "name") continue;
    let value = properties[field.id];
    if (value !== undefined && value !== null && field.codes) {
      value = String(value).split(",").map((c) => codeLabel(field.codes, c)).join("、");
    }
    row(table, label(field), value);
  }
  const p = state.progress && state.progress.compounds[String(id)];
  if (p && p.overdue) row(table, t("overdue"), t("daysBehind")(p.days_behind, p.due_stage));
  body.appendChild(table);
  const h4 = document.createElement("h3");
  h4.textContent = t("gaps");
  h4.style.fontSize = "14px";
  h4.style.marginTop = "10px";
  body.appendChild(h4);
  const gaps = document.createElement("table");
  body.appendChild(gaps);
  $("info").hidden = false;
  const data = await api(`/api/map/compounds/${id}/gaps`);
  for (const g of data.gaps) {
    const tr = gaps.insertRow();
    tr.insertCell().textContent = codeLabel("facility_type", g.facility_type);
    const cell = tr.insertCell();
    const status = g.covered ? t("covered") : g.distance_m === null ? t("unreachable") : t("uncovered");
    cell.textContent = `${status} · ${g.distance_m === null ? "—" : Math.round(g.distance_m)} / ${g.radius_m} ${t("metres")}${statusMark(g.radius_status)}`;
    cell.className = g.covered ? "gap-ok" : "gap-bad";
    if (g.nearest) cell.title = `${t("nearest")}: ${g.nearest}`;
  }
  if (!data.gaps.length) gaps.insertRow().insertCell().textContent = t("notAnalysed");
  await showPublicNotice(id, body);
}

function subHead(body, text) {
  const h = document.createElement("h3");
  h.className = "sub-head";
  h.textContent = text;
  body.appendChild(h);
}

function paragraph(body, text, className) {
  const p = document.createElement("p");
  p.textContent = text; // plain text, never HTML: a notice or a message may hold anything
  if (className) p.className = className;
  p.style.whiteSpace = "pre-wrap";
  body.appendChild(p);
}

// 公示: the notices open today (their text), the compound's passed acceptance, its published
// before/after photos and the published feedback (public to everyone; all inserted as text)
async function showPublicNotice(id, body) {
  state.notices = state.notices || (await api("/api/notices/public"));
  for (const n of state.notices.filter((x) => x.compound_id === id)) {
    subHead(body, `${t("notice")} · ${n.title}`);
    paragraph(body, t("noticePeriod")(String(n.from_on).slice(0, 10), String(n.to_on).slice(0, 10)), "muted");
    paragraph(body, n.body);
  }
  const feedback = await api(`/api/feedback/published?compound_id=${Number(id)}`);
  if (feedback.length) subHead(body, t("feedback"));
  for (const f of feedback.slice(0, 10)) {
    paragraph(body, `${String(f.received_at).slice(0, 10)}${f.rating ? " · " + t("rating")(f.rating) : ""}\n${f.text}`);
    if (f.reply) paragraph(body, `${t("reply")}：${f.reply}`, "muted");
  }
  state.acceptance = state.acceptance || (await api("/api/acceptance/public"));
  const passed = state.acceptance.find((a) => a.compound_id === id);
  if (passed) {
    subHead(body, t("acceptance"));
    paragraph(body, t("accepted")(String(passed.held_on).slice(0, 10), passed.total));
  }
  const photos = await api(`/api/evidence/published?compound_id=${id}`);
  const pairs = {};
  for (const item of photos) if (item.pair && item.side) (pairs[item.pair] = pairs[item.pair] || {})[item.side] = item;
  for (const pair of Object.values(pairs)) {
    if (!pair.before || !pair.after) continue;
    subHead(body, t("beforeAfter"));
    const figure = document.createElement("div");
    figure.className = "pair";
    for (const side of ["before", "after"]) {
      const img = document.createElement("img");
      img.src = `/api/evidence/${Number(pair[side].id)}/thumbnail`;
      img.alt = t(side);
      img.title = `${t(side)} ${pair[side].taken_at ? String(pair[side].taken_at).slice(0, 10) : ""}`;
      figure.appendChild(img);
    }
    body.appendChild(figure);
  }
}

function bboxOf(geometry) {
  let box = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = (c) => {
    if (typeof c[0] === "number") box = [Math.min(box[0], c[0]), Math.min(box[1], c[1]), Math.max(box[2], c[0]), Math.max(box[3], c[1])];
    else c.forEach(walk);
  };
  walk(geometry.coordinates);
  return box;
}

async function search(event) {
  event.preventDefault();
  const q = $("search").value.trim().replaceAll("'", "''");
  const list = $("search-results");
  list.replaceChildren();
  if (!q) return;
  const filter = encodeURIComponent(`name LIKE '%${q}%'`);
  const data = await api(`/ogc/collections/compounds/items?filter=${filter}&limit=20`);
  if (!data.features.length) {
    const li = document.createElement("li");
    li.textContent = t("noResult");
    list.appendChild(li);
    return;
  }
  for (const feature of data.features) {
    const li = document.createElement("li");
    li.textContent = `${feature.properties.name}${feature.properties.street ? ` · ${feature.properties.street}` : ""}`;
    li.addEventListener("click", () => {
      state.map.fitBounds(bboxOf(feature.geometry), { padding: 80, maxZoom: 17, duration: 0 });
      showCompound(feature.id, feature.properties);
    });
    list.appendChild(li);
  }
}

// ---- facility points -----------------------------------------------------------------------
// Every facility point the role may see, a page of the OGC API at a time (its next links), into the
// clustered source: a city holds thousands, a few hundred kilobytes of GeoJSON with two fields.
async function loadFacilityPoints() {
  const features = [];
  let url = "/ogc/collections/facilities/items?limit=10000&properties=name,type";
  while (url) {
    const page = await api(url);
    for (const f of page.features) {
      if (f.geometry && f.geometry.type === "Point") features.push(f);
      else if (f.geometry && f.geometry.type === "MultiPoint" && f.geometry.coordinates.length) {
        features.push({ ...f, geometry: { type: "Point", coordinates: f.geometry.coordinates[0] } });
      }
    }
    const next = (page.links || []).find((l) => l.rel === "next");
    const href = next ? new URL(next.href, window.location.origin) : null;
    url = href ? href.pathname + href.search : null;
  }
  state.map.getSource("facility-points").setData({ type: "FeatureCollection", features });
  state.facilityPoints = features.length;
}

function zoomIntoCluster(e) {
  const cluster = e.features[0];
  state.map.getSource("facility-points").getClusterExpansionZoom(cluster.properties.cluster_id)
    .then((zoom) => state.map.easeTo({ center: cluster.geometry.coordinates, zoom, duration: 300 }));
}

// ---- sign-in -------------------------------------------------------------------------------
async function signIn() {
  if (state.token) { sessionStorage.removeItem("gisplan.token"); window.location.reload(); return; }
  $("login-error").textContent = "";
  $("login-dialog").showModal();
}

async function tryToken() {
  const token = $("token").value.trim();
  const response = await fetch("/api/map/config", { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) { $("login-error").textContent = t("badToken"); $("login-dialog").showModal(); return; }
  sessionStorage.setItem("gisplan.token", token);
  window.location.reload();
}

// ---- start ---------------------------------------------------------------------------------
async function main() {
  try {
    state.config = await api("/api/map/config");
  } catch (error) {
    if (error.status === 401) { sessionStorage.removeItem("gisplan.token"); state.token = null; state.config = await api("/api/map/config"); }
    else throw error;
  }
  translatePage();
  const cfg = state.config;
  const map = new maplibregl.Map({
    container: "map",
    style: buildStyle(),
    bounds: cfg.bounds || [73, 18, 135, 53],
    fitBoundsOptions: { padding: 30 },
    maxPitch: 0,
    dragRotate: false,
    pitchWithRotate: false,
    attributionControl: { compact: false, customAttribution: cfg.attribution },
    transformRequest: (url) => (state.token && url.startsWith(window.location.origin)
      ? { url, headers: { Authorization: `Bearer ${state.token}` } } : { url }),
  });
  state.map = map;
  window.gisplanMap = map; // for tests and the benchmark: the map's state is observable
  map.touchZoomRotate.disableRotation();
  map.keyboard.disableRotation();
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-left");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric", maxWidth: 120 }), "bottom-left");
  map.on("click", (e) => {
    const hits = map.queryRenderedFeatures(e.point, { layers: ["compounds-fill", "compounds-point"].filter((id) => map.getLayer(id)) });
    // tiles carry few attributes at city zooms: the feature itself comes from the API
    if (hits.length) api(`/ogc/collections/compounds/items/${hits[0].id}`).then((f) => showCompound(f.id, f.properties));
  });
  for (const id of ["compounds-fill", "compounds-point"]) {
    map.on("mouseenter", id, () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", id, () => { map.getCanvas().style.cursor = ""; });
  }
  map.on("load", () => { document.body.dataset.ready = "1"; });
  document.querySelectorAll("input[name=mode]").forEach((radio) => radio.addEventListener("change", () => {
    state.mode = radio.value; showGaps();
  }));
  $("facility").addEventListener("change", () => { state.facility = $("facility").value; showGaps(); showCatchment(); });
  $("catchment").addEventListener("change", showCatchment);
  $("search-form").addEventListener("submit", search);
  $("info-close").addEventListener("click", () => { $("info").hidden = true; });
  $("lang").addEventListener("click", () => {
    state.lang = state.lang === "zh" ? "en" : "zh";
    localStorage.setItem("gisplan.lang", state.lang);
    translatePage();
  });
  $("login").addEventListener("click", signIn);
  $("login-form").addEventListener("submit", (e) => { if (e.submitter && e.submitter.value === "ok") { e.preventDefault(); $("login-dialog").close(); tryToken(); } });
  const params = new URLSearchParams(window.location.search);
  if (params.get("mode") === "gap") { state.mode = "gap"; document.querySelector("input[value=gap]").checked = true; }
  if (params.get("facility")) { state.facility = params.get("facility"); $("facility").value = state.facility; }
  if (params.get("catchment")) $("catchment").checked = true;
  map.on("load", () => { showGaps(); showCatchment(); showProgress(); });
  if (cfg.layers.some((l) => l.id === "facilities")) {
    map.on("load", () => {
      loadFacilityPoints().then(() => { document.body.dataset.facilities = "1"; }, (error) => console.error(error));
    });
    map.on("click", "facility-clusters", zoomIntoCluster);
    map.on("mouseenter", "facility-clusters", () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", "facility-clusters", () => { map.getCanvas().style.cursor = ""; });
  }
}

main().catch((error) => { document.body.dataset.error = String(error); console.error(error); });
