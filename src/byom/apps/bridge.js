// The MCP Apps bridge (io.modelcontextprotocol/ui, SEP-1865): JSON-RPC 2.0 over postMessage with the host.
// The view asks the host to initialize, receives the tool's input and result as notifications, and calls
// tools through the host (which forwards them to this server and asks the user where it must).
const bridge = (() => {
  let nextId = 1;
  const pending = new Map();
  const handlers = {};
  const send = (message) => window.parent.postMessage({ jsonrpc: "2.0", ...message }, "*");

  window.addEventListener("message", (event) => {
    if (event.source !== window.parent) return;
    const msg = event.data;
    if (!msg || msg.jsonrpc !== "2.0") return;
    if (msg.id !== undefined && !msg.method) {
      const waiting = pending.get(msg.id);
      if (!waiting) return;
      pending.delete(msg.id);
      if (msg.error) waiting.reject(new Error(msg.error.message || "The host refused the request."));
      else waiting.resolve(msg.result);
      return;
    }
    const handler = handlers[msg.method];
    if (msg.id === undefined) {
      if (handler) handler(msg.params || {});
    } else if (handler) {
      send({ id: msg.id, result: handler(msg.params || {}) || {} });
    } else {
      send({ id: msg.id, error: { code: -32601, message: `Unknown method ${msg.method}` } });
    }
  });

  const request = (method, params) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      send({ id, method, params });
    });
  const notify = (method, params) => send({ method, params });
  const on = (method, handler) => { handlers[method] = handler; };

  const applyContext = (context) => {
    if (context && (context.theme === "dark" || context.theme === "light")) {
      document.documentElement.dataset.theme = context.theme;
    }
  };
  on("ui/notifications/host-context-changed", applyContext);

  const start = async (name) => {
    const answer = await request("ui/initialize", {
      protocolVersion: "2026-01-26",
      appInfo: { name, version: "1" },
      appCapabilities: {},
    });
    applyContext(answer && answer.hostContext);
    notify("ui/notifications/initialized", {});
    new ResizeObserver(() => {
      const box = document.documentElement.getBoundingClientRect();
      notify("ui/notifications/size-changed", { width: Math.ceil(box.width), height: Math.ceil(box.height) });
    }).observe(document.documentElement);
    return answer;
  };

  // A tool's result as the host hands it over: a CallToolResult, sometimes wrapped as {result: ...}.
  const unwrap = (params) => (params && params.result && !params.content ? params.result : params) || {};
  const callTool = async (name, args) => unwrap(await request("tools/call", { name, arguments: args }));
  const text = (result) =>
    (result.content || []).filter((block) => block.type === "text").map((block) => block.text).join("\n");

  return { on, start, callTool, unwrap, text };
})();

// Elements are built with textContent only: what a job or a model wrote is never parsed as HTML.
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
};
const fill = (id, ...children) => document.getElementById(id).replaceChildren(...children);
