// A poll's live statistics: the snapshot from the socket builds the unit tree; the page tells the
// server which unit it shows ({"type":"view"}) on drill-down/up and after every snapshot, and the
// server then pushes only that unit's and its children's changes (docs/community-statistics.md).
// A view frame brings fresh figures and the unit's turnout line; an update replaces the changed
// units' figures (and results when visible) and extends the line.
// Charts are plain SVG; every text is set with textContent (names come from the ledger).
const root = document.getElementById("poll-stats");
const SVG = "http://www.w3.org/2000/svg";
const labels = {};
document.querySelectorAll("#stats-labels dt").forEach((dt) => { labels[dt.textContent] = dt.nextElementSibling.textContent; });
const state = { poll: null, units: new Map(), children: new Map(), selected: null, series: [], socket: null };

const number = (value) => new Intl.NumberFormat(document.documentElement.lang || undefined).format(value);
const percent = (part, whole) => (whole ? (100 * part / whole).toFixed(1) + "%" : "–");

function svg(name, attributes, text) {
  const element = document.createElementNS(SVG, name);
  Object.entries(attributes).forEach(([key, value]) => element.setAttribute(key, String(value)));
  if (text !== undefined) { element.textContent = text; }
  return element;
}

function applySnapshot(message) {
  state.poll = message;
  state.units.clear();
  state.children.clear();
  message.units.forEach((unit) => {
    state.units.set(unit.id, unit);
    if (unit.parent !== null) {
      if (!state.children.has(unit.parent)) { state.children.set(unit.parent, []); }
      state.children.get(unit.parent).push(unit.id);
    }
  });
  const top = message.units.length ? message.units[0].id : null;
  if (!state.units.has(state.selected)) { state.selected = top; }
  root.dataset.view = top || "";  // the server's view of a new socket is the root
  if (state.selected === top) { state.series = message.series[top] || []; } else { sendView(); }  // a reconnect
}

function applyFigures(message) {
  Object.assign(state.poll, { status: message.status, height: message.height, time: message.time,
    results_visible: message.results_visible });
  Object.entries(message.units).forEach(([id, figures]) => {
    const unit = state.units.get(id);
    if (!unit) { return; }
    unit.figures = figures;
    if (!message.results_visible) { unit.result = null; }
  });
  Object.entries(message.results || {}).forEach(([id, result]) => {
    const unit = state.units.get(id);
    if (unit) { unit.result = result; }
  });
}

function applyView(message) {
  applyFigures(message);
  root.dataset.view = message.unit;
  if (message.unit === state.selected) { state.series = message.series[message.unit] || []; }
}

function applyError(message) {
  // The page only asks for units of the snapshot, so an unknown one means the tree changed: back to the top.
  if (message.code === "view_unknown_unit" && state.poll) { select(state.poll.units[0].id); }
}

function sendView() {
  if (state.socket && state.socket.readyState === WebSocket.OPEN && state.selected !== null) {
    state.socket.send(JSON.stringify({ type: "view", unit: state.selected }));
  }
}

function applyUpdate(message) {
  const selected = state.units.get(state.selected);
  const figures = message.units[state.selected];
  if (selected && figures && figures[2] !== selected.figures[2]) { state.series.push([message.time, figures[2], figures[3]]); }
  applyFigures(message);
}

function select(id) {
  state.selected = id;
  state.series = [];
  sendView();  // the view frame brings fresh figures and this unit's turnout line
  render();
}

function renderPath() {
  const nav = document.getElementById("stats-path");
  const chain = [];
  for (let id = state.selected; id !== null && state.units.has(id); id = state.units.get(id).parent) { chain.unshift(id); }
  nav.replaceChildren(...chain.flatMap((id, index) => {
    const link = document.createElement("button");
    link.type = "button";
    link.className = "link-button";
    link.textContent = state.units.get(id).name;
    link.addEventListener("click", () => select(id));
    return index ? [document.createTextNode(" › "), link] : [link];
  }));
}

function leading(unit) {
  if (!unit.result) { return labels.hidden; }
  if (!unit.figures[2]) { return labels.no_ballots; }
  const names = unit.result.winners.map((id) => optionName(id)).join(", ");
  return unit.result.tie ? labels.tie + ": " + names : names;
}

function optionName(id) {
  const option = state.poll.options.find((candidate) => candidate.id === id);
  return option ? option.name : id;
}

function renderFigures(unit) {
  const [eligible, eligibleWeight, ballots, weight] = unit.figures;
  document.getElementById("unit-name").textContent = unit.name;
  document.getElementById("fig-eligible").textContent = number(eligible);
  document.getElementById("eligible-note").hidden = state.poll.eligible_published !== false;
  document.getElementById("fig-ballots").textContent = number(ballots);
  document.getElementById("fig-turnout").textContent = percent(ballots, eligible);
  document.getElementById("fig-weight").textContent = number(weight) + " / " + number(eligibleWeight);
}

function renderResults(unit) {
  const chart = document.getElementById("results-chart");
  const summary = document.getElementById("result-summary");
  document.getElementById("stats-hidden").hidden = Boolean(state.poll.results_visible);
  chart.replaceChildren();
  if (!unit.result) { summary.textContent = labels.hidden; return; }
  let text = labels.winner + ": " + leading(unit);
  if (state.poll.method === "yna" && unit.figures[2]) { text = unit.result.passed ? labels.passed : labels.failed; }
  if (state.poll.method === "ranked") { text += " · " + labels.first_preferences; }
  summary.textContent = text;
  const options = state.poll.options;
  const totals = options.map((option) => unit.result.totals[option.id] || 0);
  const most = Math.max(1, ...totals);
  const row = 120 / Math.max(options.length, 1);
  chart.setAttribute("viewBox", `0 0 400 ${Math.max(120, row * options.length)}`);
  options.forEach((option, index) => {
    const y = index * row;
    const won = unit.result.winners.includes(option.id) && unit.figures[2] > 0;
    chart.append(svg("text", { x: 0, y: y + row * 0.65, class: "bar-label" }, option.name));
    chart.append(svg("rect", { x: 120, y: y + row * 0.15, height: row * 0.7, width: Math.max(1, 220 * totals[index] / most),
      class: won ? "stats-bar winner" : "stats-bar", "data-option": option.id }));
    chart.append(svg("text", { x: 345, y: y + row * 0.65, class: "bar-value", "data-option": option.id }, number(totals[index])));
  });
}

function renderSeries(unit) {
  const chart = document.getElementById("turnout-chart");
  chart.replaceChildren();
  const points = state.series;
  if (points.length === 0) { return; }
  const first = points[0][0];
  const span = Math.max(1, points[points.length - 1][0] - first);
  const top = Math.max(1, unit.figures[0], ...points.map((point) => point[1]));
  const coordinates = points.map(([time, ballots]) => `${(10 + 380 * (time - first) / span).toFixed(1)},${(110 - 100 * ballots / top).toFixed(1)}`);
  if (coordinates.length === 1) { coordinates[0] = `10,110 390,${coordinates[0].split(",")[1]}`; }
  chart.append(svg("polyline", { points: coordinates.join(" "), class: "turnout-line" }));
  chart.append(svg("line", { x1: 10, y1: 110, x2: 390, y2: 110, class: "axis" }));
  chart.append(svg("text", { x: 390, y: 12, class: "axis-label", "text-anchor": "end" }, percent(unit.figures[2], unit.figures[0])));
}

function renderRows() {
  const body = document.getElementById("unit-rows");
  const rows = (state.children.get(state.selected) || []).map((id) => {
    const unit = state.units.get(id);
    const row = document.createElement("tr");
    row.dataset.unit = id;
    const name = document.createElement("button");
    name.type = "button";
    name.className = "link-button";
    name.textContent = unit.name + ((state.children.get(id) || []).length ? " ›" : "");
    name.addEventListener("click", () => select(id));
    const cells = [name, number(unit.figures[0]), number(unit.figures[2]), percent(unit.figures[2], unit.figures[0]), leading(unit)];
    cells.forEach((content) => {
      const cell = document.createElement("td");
      if (typeof content === "string") { cell.textContent = content; } else { cell.append(content); }
      row.append(cell);
    });
    return row;
  });
  body.replaceChildren(...rows);
}

function render() {
  const unit = state.units.get(state.selected);
  if (!unit) { return; }
  document.getElementById("stats-status").textContent =
    `${labels.status}: ${labels[state.poll.status] || state.poll.status} · ${labels.height} ${number(state.poll.height)}`;
  renderPath();
  renderFigures(unit);
  renderResults(unit);
  renderSeries(unit);
  renderRows();
  root.dataset.height = String(state.poll.height);
  root.dataset.updates = String(Number(root.dataset.updates) + 1);
}

function connect(delay) {
  const live = document.getElementById("stats-live");
  const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(scheme + window.location.host + root.dataset.socket);
  state.socket = socket;
  socket.addEventListener("open", () => { root.dataset.connected = "1"; live.textContent = live.dataset.live; delay = 1000; });
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "snapshot") {
      applySnapshot(message);
    } else if (!state.poll) {
      return;
    } else if (message.type === "view") {
      applyView(message);
    } else if (message.type === "update") {
      applyUpdate(message);
    } else if (message.type === "error") {
      applyError(message);
    }
    render();
  });
  socket.addEventListener("close", (event) => {
    root.dataset.connected = "0";
    state.socket = null;
    live.textContent = event.code === 4404 ? labels.unavailable : live.dataset.offline;
    if (event.code === 4401 || event.code === 4403) { return; }
    setTimeout(() => connect(Math.min(delay * 2, 30000)), delay);
  });
}

connect(1000);
