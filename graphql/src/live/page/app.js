// The live alert feed: graphql-transport-ws over /graphql/ws, resuming from the last
// cursor shown after any reconnect. Values from the chain are only ever set as text.
(function () {
  "use strict";
  var QUERY = "subscription($after: String) { alerts(after: $after) { cursor replayed " +
    "alert { id monitorId network blockNumber transactionHash createdAt } } }";
  var MAX_ROWS = 500;
  var el = function (id) { return document.getElementById(id); };
  var socket = null, cursor = null, credential = null, tenant = null, retry = 0, timer = null;

  function status(text, state) {
    var s = el("status");
    s.textContent = text;
    s.dataset.state = state;
  }

  function showError(text) {
    var e = el("error");
    e.textContent = text || "";
    e.hidden = !text;
  }

  function cell(row, text, cls) {
    var td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    if (cls) td.className = cls;
    row.appendChild(td);
  }

  function addAlert(item) {
    var a = item.alert;
    var row = document.createElement("tr");
    row.className = "alert" + (item.replayed ? " replayed" : " new");
    row.dataset.cursor = item.cursor;
    row.dataset.alertId = a.id;
    cell(row, new Date(a.createdAt).toLocaleString());
    cell(row, a.network);
    cell(row, a.blockNumber);
    cell(row, a.transactionHash, "hash");
    cell(row, a.monitorId, "hash");
    cell(row, item.replayed ? "missed while away" : "");
    var body = el("alerts");
    body.insertBefore(row, body.firstChild);
    while (body.children.length > MAX_ROWS) body.removeChild(body.lastChild);
  }

  function initPayload() {
    var p = credential.indexOf("smk_") === 0 ? { apiKey: credential } : { authorization: "Bearer " + credential };
    if (tenant) p.tenant = tenant;
    return p;
  }

  function connect() {
    clearTimeout(timer);
    if (socket) { socket.onclose = null; socket.close(); }
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/graphql/ws";
    status("connecting…", "idle");
    socket = new WebSocket(url, "graphql-transport-ws");
    socket.onopen = function () {
      socket.send(JSON.stringify({ type: "connection_init", payload: initPayload() }));
    };
    socket.onmessage = function (event) {
      var m;
      try { m = JSON.parse(event.data); } catch (e) { return; }
      if (m.type === "connection_ack") {
        retry = 0;
        showError("");
        status("live", "live");
        socket.send(JSON.stringify({ id: "alerts", type: "subscribe",
          payload: { query: QUERY, variables: { after: cursor } } }));
      } else if (m.type === "next" && m.payload) {
        if (m.payload.errors) { showError(m.payload.errors[0].message); return; }
        var item = m.payload.data && m.payload.data.alerts;
        if (item) { cursor = item.cursor; addAlert(item); }
      } else if (m.type === "error") {
        showError((m.payload && m.payload[0] && m.payload[0].message) || "subscription refused");
        status("error", "error");
      } else if (m.type === "ping") {
        socket.send(JSON.stringify({ type: "pong" }));
      }
    };
    socket.onclose = function (event) {
      if (event.code === 4401 || event.code === 4403) {
        status("refused", "error");
        showError(event.reason || "credentials refused");
        return;
      }
      retry = Math.min(retry + 1, 6);
      var wait = Math.min(500 * Math.pow(2, retry - 1), 15000);
      status("reconnecting…", "error");
      if (event.reason) showError(event.reason);
      timer = setTimeout(connect, wait);
    };
  }

  function start(c, t) {
    credential = c.trim();
    tenant = (t || "").trim();
    cursor = null;
    el("alerts").textContent = "";
    if (credential) connect();
  }

  el("login").addEventListener("submit", function (e) {
    e.preventDefault();
    start(el("credential").value, el("tenant").value);
  });

  var fragment = new URLSearchParams(location.hash.slice(1));
  var given = fragment.get("apiKey") || fragment.get("token");
  if (given) {
    el("credential").value = given;
    el("tenant").value = fragment.get("tenant") || "";
    history.replaceState(null, "", location.pathname);
    start(given, fragment.get("tenant"));
  }
})();
