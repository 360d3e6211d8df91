// The deconflict console: a map of what the signed-in party may see, through the API only.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = "deconflict.token";
  const state = {
    token: sessionStorage.getItem(TOKEN_KEY),
    me: null,
    notices: [],
    conflicts: [],
    range: null, // [first start, last end] in ms
    drawing: null, // {mode, points, preview, circle}
    identifying: false,
    lastEventId: null,
    alerts: 0,
    fresh: new Set(), // conflicts of the notice just filed, highlighted until the next filing
    stream: null,
  };

  // --- the API ------------------------------------------------------------------------------

  async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${state.token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
    if (!response.ok) {
      const e = data && data.error;
      const message = e ? `${e.message}${e.field ? ` (${e.field})` : ""}` : response.statusText;
      throw Object.assign(new Error(message), { status: response.status });
    }
    return data;
  }

  // Text only, never HTML: notices carry other parties' free text.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const c of children) node.append(c instanceof Node ? c : String(c));
    return node;
  }

  function details(pairs) {
    const dl = el("dl", { class: "popup" });
    for (const [k, v] of pairs) {
      if (v === undefined || v === null || v === "") continue;
      dl.append(el("dt", {}, k), el("dd", {}, typeof v === "string" ? v : JSON.stringify(v)));
    }
    return dl;
  }

  // --- the map ------------------------------------------------------------------------------

  const map = L.map("map", { worldCopyJump: true, minZoom: 2 }).setView([34.0, 36.0], 6);
  fetch("/console/world.json").then((r) => r.json()).then((geo) => {
    L.geoJSON(geo, {
      interactive: false,
      style: (f) => (f.properties.layer === "coast"
        ? { color: "#55657a", weight: 1 }
        : { color: "#8d99aa", weight: 0.8, dashArray: "3 3" }),
    }).addTo(map).bringToBack();
  });
  const layers = {
    mine: L.layerGroup().addTo(map),
    others: L.layerGroup().addTo(map),
    protected: L.layerGroup().addTo(map),
    movements: L.layerGroup().addTo(map),
    conflicts: L.layerGroup().addTo(map),
    tracks: L.layerGroup().addTo(map),
  };
  L.control.layers(null, {
    "My notices": layers.mine,
    "Others' notices I may see": layers.others,
    "Protected places": layers.protected,
    "Movements": layers.movements,
    "Conflicts (overlaps)": layers.conflicts,
    "Tracks": layers.tracks,
  }, { collapsed: false }).addTo(map);
  const draft = L.layerGroup().addTo(map);
  // For automation and debugging: the map and what the page holds (all of it from the API).
  window.deconflictConsole = { map, state };

  function styleOf(notice) {
    if (notice.kind === "protected") return { color: "#1b7f3b", className: "notice notice-protected" };
    if (notice.kind === "movement") return { color: "#c26a00", className: "notice notice-movement" };
    if (notice.party === state.me.party) return { color: "#1f5fbf", className: "notice notice-mine" };
    return { color: "#7b3fa0", className: "notice notice-others" };
  }

  function groupOf(notice) {
    if (notice.kind === "protected") return layers.protected;
    if (notice.kind === "movement") return layers.movements;
    return notice.party === state.me.party ? layers.mine : layers.others;
  }

  // A shape's own popup, unless a tool is active: then the click goes on to the map.
  function clickable(layer, content) {
    layer.on("click", (e) => {
      if (state.drawing || state.identifying) return;
      L.DomEvent.stopPropagation(e);
      L.popup().setLatLng(e.latlng).setContent(content()).openOn(map);
    });
    return layer;
  }

  function shape(footprint, style) {
    if (footprint.type === "Circle") {
      const [lon, lat] = footprint.center;
      return L.circle([lat, lon], { radius: footprint.radius_m, ...style });
    }
    return L.geoJSON(footprint, { style: () => style });
  }

  function times(notice) {
    const spans = (notice.volumes || []).map((v) => v.time);
    if (notice.route) {
      const t = notice.route.waypoint_times;
      spans.push({ start: t[0], end: t[t.length - 1] });
    }
    return spans.map((s) => [Date.parse(s.start), s.end ? Date.parse(s.end) : Infinity]);
  }

  function selectedTime() {
    if ($("all-times").checked || !state.range) return null;
    const [lo, hi] = state.range;
    return lo + (hi - lo) * (Number($("timeline").value) / 1000);
  }

  function active(spans, t) {
    return t === null || spans.some(([s, e]) => s <= t && t < e);
  }

  function popupOf(notice) {
    return details([
      ["notice", `${notice.id} v${notice.version}`],
      ["party", notice.party],
      ["kind", notice.kind],
      ["category", notice.category],
      ["state", notice.state],
      ["aircraft", (notice.aircraft || []).join(", ")],
      ["contact", notice.contact],
      ["altitude", (notice.volumes || []).map((v) => `${v.altitude.lower}–${v.altitude.upper} ${v.altitude.reference}`).join("; ")],
      ["time", times(notice).map(([s, e]) => `${new Date(s).toISOString()} – ${e === Infinity ? "open" : new Date(e).toISOString()}`).join("; ")],
    ]);
  }

  function renderNotices() {
    for (const name of ["mine", "others", "protected", "movements"]) layers[name].clearLayers();
    const t = selectedTime();
    let shown = 0;
    for (const notice of state.notices) {
      const spans = times(notice);
      if (!active(spans, t)) continue;
      const style = { weight: 2, fillOpacity: 0.15, ...styleOf(notice) };
      const group = groupOf(notice);
      for (const volume of notice.volumes || []) {
        clickable(shape(volume.footprint, style), () => popupOf(notice)).addTo(group);
      }
      if (notice.route) {
        const line = notice.route.coordinates.map(([lon, lat]) => [lat, lon]);
        clickable(L.polyline(line, { ...style, weight: 4 }), () => popupOf(notice)).addTo(group);
      }
      shown += 1;
    }
    document.body.dataset.noticesShown = String(shown);
    renderConflicts();
  }

  function renderConflicts() {
    const fresh = state.fresh;
    layers.conflicts.clearLayers();
    const list = $("conflicts");
    list.replaceChildren();
    const t = selectedTime();
    for (const c of state.conflicts) {
      const o = c.overlap;
      const spans = [[Date.parse(o.time.start), o.time.end ? Date.parse(o.time.end) : Infinity]];
      if (!active(spans, t)) continue;
      const isNew = fresh.has(`${c.notice.id}/${c.other.id}`);
      const style = {
        color: "#d01c1c", weight: isNew ? 4 : 2, fillOpacity: 0.45,
        className: isNew ? "conflict conflict-new" : "conflict",
      };
      const text = `${c.kind}: ${c.notice.id} × ${c.other.id} (${c.other.party})`;
      if (o.footprint) {
        clickable(shape(o.footprint, style), () => details([
          ["conflict", c.kind], ["mine", c.notice.id], ["other", `${c.other.id} (${c.other.party})`],
          ["altitude", `${o.altitude.lower}–${o.altitude.upper} ${o.altitude.reference}`],
          ["time", `${o.time.start} – ${o.time.end || "open"}`], ["distance", `${o.distance_m} m`],
        ])).addTo(layers.conflicts);
      }
      list.append(el("li", isNew ? { class: "new" } : {}, text));
    }
    $("conflict-count").textContent = String(list.children.length);
  }

  function updateRange() {
    const all = state.notices.flatMap(times).flat().filter(Number.isFinite);
    state.range = all.length ? [Math.min(...all), Math.max(...all)] : null;
    showTime();
  }

  function showTime() {
    const t = selectedTime();
    $("time-label").textContent = t === null ? "showing every time" : new Date(t).toISOString();
  }

  async function refresh() {
    const [notices, conflicts] = await Promise.all([
      api("GET", "/v1/notices"),
      api("GET", "/v1/conflicts?limit=2000"),
    ]);
    state.notices = notices;
    state.conflicts = conflicts;
    updateRange();
    renderNotices();
    await refreshTracks();
  }

  // The party's own aircraft, where each was last reported (others' are never listed).
  async function refreshTracks() {
    const tracks = await api("GET", "/v1/tracks?within_s=600");
    layers.tracks.clearLayers();
    for (const t of tracks) {
      const at = [t.lat, t.lon];
      const ahead = [t.lat + (t.velocity.north * 60) / 111320,
        t.lon + (t.velocity.east * 60) / (111320 * Math.cos((t.lat * Math.PI) / 180))];
      clickable(L.circleMarker(at, { radius: 5, color: "#111", fillOpacity: 0.9, className: "track" }),
        () => details([["aircraft", t.aircraft], ["time", t.time],
          ["altitude", `${Math.round(t.altitude.lower)}–${Math.round(t.altitude.upper)} W84`]]))
        .addTo(layers.tracks);
      L.polyline([at, ahead], { color: "#111", weight: 1, dashArray: "2 3", interactive: false })
        .addTo(layers.tracks);
    }
    document.body.dataset.tracksShown = String(tracks.length);
  }

  // --- drawing and filing -------------------------------------------------------------------

  function toolButtons(active) {
    for (const id of ["draw-polygon", "draw-circle", "identify"]) {
      $(id).classList.toggle("active", id === active);
    }
  }

  function startDrawing(mode) {
    state.identifying = false;
    state.drawing = { mode, points: [] };
    draft.clearLayers();
    toolButtons(mode === "polygon" ? "draw-polygon" : "draw-circle");
    $("finish").hidden = mode !== "polygon";
    $("form-box").hidden = true;
  }

  function stopDrawing() {
    state.drawing = null;
    draft.clearLayers();
    toolButtons(null);
    $("finish").hidden = true;
    $("form-box").hidden = true;
  }

  function drawClick(latlng) {
    const d = state.drawing;
    d.points.push(latlng);
    draft.clearLayers();
    if (d.mode === "polygon") {
      L.polyline(d.points, { color: "#f2b705" }).addTo(draft);
      for (const p of d.points) L.circleMarker(p, { radius: 3, color: "#f2b705" }).addTo(draft);
    } else if (d.points.length === 1) {
      L.circleMarker(d.points[0], { radius: 3, color: "#f2b705" }).addTo(draft);
    } else {
      d.radius = map.distance(d.points[0], d.points[1]);
      L.circle(d.points[0], { radius: d.radius, color: "#f2b705" }).addTo(draft);
      openForm();
    }
  }

  function finishPolygon() {
    const d = state.drawing;
    if (!d || d.points.length < 3) return;
    draft.clearLayers();
    L.polygon(d.points, { color: "#f2b705" }).addTo(draft);
    openForm();
  }

  function localInput(ms) {
    return new Date(ms).toISOString().slice(0, 16);
  }

  function openForm() {
    $("form-box").hidden = false;
    $("finish").hidden = true;
    const hour = 3600e3;
    const next = Math.ceil(Date.now() / hour) * hour;
    if (!$("f-start").value) $("f-start").value = localInput(next + hour);
    if (!$("f-end").value) $("f-end").value = localInput(next + 3 * hour);
    $("form-result").textContent = "";
  }

  function footprintOfDraft() {
    const d = state.drawing;
    if (d.mode === "circle") {
      return { type: "Circle", center: [d.points[0].lng, d.points[0].lat], radius_m: d.radius };
    }
    const ring = d.points.map((p) => [p.lng, p.lat]);
    ring.push(ring[0]);
    return { type: "Polygon", coordinates: [ring] };
  }

  function limit(value) {
    const text = value.trim().toUpperCase();
    return text === "SFC" || text === "UNL" ? text : Number(text);
  }

  async function submitNotice(event) {
    event.preventDefault();
    const reference = $("f-ref").value;
    const altitude = { lower: limit($("f-lower").value), upper: limit($("f-upper").value), reference };
    if (reference !== "FL") altitude.units = "m";
    const body = {
      kind: $("f-kind").value,
      volumes: [{
        footprint: footprintOfDraft(),
        altitude,
        time: { start: `${$("f-start").value}:00Z`, end: `${$("f-end").value}:00Z` },
      }],
    };
    const category = $("f-category").value.trim();
    if (category) body.category = category;
    const aircraft = $("f-aircraft").value.split(",").map((s) => s.trim()).filter(Boolean);
    if (aircraft.length) body.aircraft = aircraft;
    try {
      const answer = await api("POST", "/v1/notices", body);
      const n = answer.conflicts.length;
      state.fresh = new Set(answer.conflicts.map((c) => `${c.notice.id}/${c.other.id}`));
      stopDrawing();
      $("form-result").textContent = `Filed ${answer.notice.id}: ${n} conflict${n === 1 ? "" : "s"}`;
      $("form-box").hidden = false;
      $("notice-form").hidden = true;
      await refresh();
    } catch (e) {
      $("form-result").textContent = `Refused: ${e.message}`;
    }
  }

  // --- identification -----------------------------------------------------------------------

  async function identifyAt(latlng) {
    const t = Date.now(); // identification is about now, whatever the timeline shows
    const query = new URLSearchParams({
      lon: latlng.lng.toFixed(6), lat: latlng.lat.toFixed(6), alt: $("id-alt").value,
      time: new Date(t).toISOString(), tolerance_m: "100",
    });
    const box = $("identify-result");
    try {
      const answer = await api("GET", `/v1/identify?${query}`);
      const lines = [...answer.operations, ...(answer.tracks || [])].map((o) =>
        `${o.party} ${o.kind}${o.id ? ` ${o.id}` : ""}${o.aircraft && o.aircraft.length ? ` (${[].concat(o.aircraft).join(", ")})` : ""}`);
      const list = () => (lines.length
        ? el("ul", {}, ...lines.map((line) => el("li", {}, line)))
        : "nothing notified there");
      box.replaceChildren(list());
      L.popup().setLatLng(latlng).setContent(el("div", {}, list())).openOn(map);
    } catch (e) {
      box.textContent = `Refused: ${e.message}`;
    }
  }

  // --- alerts: Server-Sent Events over fetch, so the token stays in a header -----------------

  function showAlert(alert) {
    state.alerts += 1;
    $("alert-count").textContent = String(state.alerts);
    const parts = [];
    for (const key of ["opened", "changed", "resolved"]) {
      if (alert[key]) parts.push(`${alert[key].length} ${key}`);
    }
    if (alert.cause) parts.push(`by ${alert.cause.id} (${alert.cause.party})`);
    if (alert.notice) parts.push(`${alert.notice.id} (${alert.notice.party})`);
    if (alert.aircraft) parts.push(`aircraft ${alert.aircraft}`);
    if (alert.other_party) parts.push(`near an aircraft of ${alert.other_party}`);
    const item = el("li", { class: "new", "data-id": String(alert.id) },
      `#${alert.id} ${alert.type}: ${parts.join(", ")}`);
    $("alerts").prepend(item);
  }

  async function listen() {
    while (state.token) {
      const headers = { Authorization: `Bearer ${state.token}` };
      if (state.lastEventId) headers["Last-Event-ID"] = state.lastEventId;
      try {
        const response = await fetch("/v1/alerts/stream", { headers });
        if (!response.ok) throw new Error(response.statusText);
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        document.body.dataset.stream = "open";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let id = null; let data = "";
            for (const line of block.split("\n")) {
              if (line.startsWith("id: ")) id = line.slice(4);
              else if (line.startsWith("data: ")) data += line.slice(6);
            }
            if (id !== null && data) {
              state.lastEventId = id;
              showAlert(JSON.parse(data));
              refresh().catch(() => {});
            }
          }
        }
      } catch (_) { /* reconnect below */ }
      document.body.dataset.stream = "closed";
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  // --- wiring -------------------------------------------------------------------------------

  map.on("click", (e) => {
    if (state.drawing) drawClick(e.latlng);
    else if (state.identifying) identifyAt(e.latlng);
  });
  $("draw-polygon").onclick = () => startDrawing("polygon");
  $("draw-circle").onclick = () => startDrawing("circle");
  $("finish").onclick = finishPolygon;
  $("cancel-draw").onclick = stopDrawing;
  $("identify").onclick = () => {
    stopDrawing();
    state.identifying = !state.identifying;
    toolButtons(state.identifying ? "identify" : null);
  };
  $("notice-form").onsubmit = submitNotice;
  $("timeline").oninput = () => { showTime(); renderNotices(); };
  $("all-times").onchange = () => { showTime(); renderNotices(); };
  $("sign-out").onclick = () => { sessionStorage.removeItem(TOKEN_KEY); location.reload(); };
  for (const id of ["draw-polygon", "draw-circle"]) {
    $(id).addEventListener("click", () => { $("notice-form").hidden = false; });
  }

  async function start() {
    try {
      state.me = await api("GET", "/v1/me");
    } catch (e) {
      sessionStorage.removeItem(TOKEN_KEY);
      state.token = null;
      $("login-error").textContent = e.status === 401 ? "That token is not valid." : e.message;
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, state.token);
    $("login").hidden = true;
    $("app").hidden = false;
    $("who").textContent = `${state.me.party} (${state.me.role})`;
    map.invalidateSize();
    await refresh();
    const bounds = L.latLngBounds([]);
    for (const group of Object.values(layers)) {
      group.eachLayer((layer) => { if (layer.getBounds) bounds.extend(layer.getBounds()); });
    }
    if (bounds.isValid()) map.fitBounds(bounds.pad(0.5), { maxZoom: 10, animate: false });
    document.body.dataset.ready = "true";
    listen();
    setInterval(() => refreshTracks().catch(() => {}), 5000);
  }

  $("login-form").onsubmit = (event) => {
    event.preventDefault();
    state.token = $("token").value.trim();
    start();
  };
  if (state.token) start();
})();
