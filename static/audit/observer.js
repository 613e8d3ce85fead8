// Observer dashboard, live: each snapshot pushed over the websocket replaces the sections'
// server-rendered HTML (escaped by Django's templates), and figures that changed flash briefly.
const root = document.getElementById("observer");

function keyedTexts(section) {
  const texts = new Map();
  section.querySelectorAll("[data-key]").forEach((cell) => {
    const row = cell.closest("[data-station],[data-node],[data-candidate],[data-contract]");
    const rowKey = row ? Object.values(row.dataset).join("/") : "";
    texts.set(rowKey + "|" + cell.dataset.key, cell.textContent.trim());
  });
  return texts;
}

function markChanges(section, before) {
  section.querySelectorAll("[data-key]").forEach((cell) => {
    const row = cell.closest("[data-station],[data-node],[data-candidate],[data-contract]");
    const rowKey = row ? Object.values(row.dataset).join("/") : "";
    const previous = before.get(rowKey + "|" + cell.dataset.key);
    if (previous !== undefined && previous !== cell.textContent.trim()) { cell.classList.add("changed"); }
  });
}

export function render(message) {
  Object.entries(message.html || {}).forEach(([name, html]) => {
    const section = root.querySelector(`[data-section="${name}"]`);
    if (!section) { return; }
    const before = keyedTexts(section);
    section.innerHTML = html;
    markChanges(section, before);
  });
  root.dataset.updates = String(Number(root.dataset.updates || 0) + 1);
}

function connect(delay) {
  const state = document.getElementById("live-state");
  const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(scheme + window.location.host + root.dataset.socket);
  socket.addEventListener("open", () => { root.dataset.connected = "1"; state.textContent = state.dataset.live; delay = 1000; });
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "snapshot") { render(message); }
  });
  socket.addEventListener("close", (event) => {
    root.dataset.connected = "0";
    state.textContent = state.dataset.offline;
    if (event.code === 4403) { return; }  // access withdrawn: reconnecting would be refused again
    window.setTimeout(() => connect(Math.min(delay * 2, 30000)), delay);
  });
}

if (root && root.dataset.socket) { connect(1000); }
