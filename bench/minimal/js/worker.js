// The same two routes as bench/minimal/rust in plain JS.
const BODY = '{"status":"ok"}';
const LOG_LINE = '{"requestId":"3f2b6c1e-8a4d-4f7b-9c2e-1d5a6b7c8d9e","tenant":null,"method":"GET","route":"/api/health","status":200,"ms":0,"note":"minimal-bench-log-line"}';
const ok = () => new Response(BODY, { headers: { "content-type": "application/json" } });

export default {
  async fetch(req) {
    if (req.method !== "GET") return new Response("method not allowed", { status: 405 });
    const path = new URL(req.url).pathname;
    // `/api/health` too, so `loadgen wait-ready` can time its cold start.
    if (path === "/health" || path === "/api/health") return ok();
    if (path === "/health-log") {
      console.log(LOG_LINE);
      return ok();
    }
    return new Response("not found", { status: 404 });
  },
};
