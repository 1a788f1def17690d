// @vitest-environment node
// Server-side rendering: the modules load and the hook renders with no window, no EventSource
// and no WebSocket, and nothing reads those globals before an effect runs (effects do not run
// on the server).
import { createElement } from "react";
import { renderToString } from "react-dom/server";
import { afterEach, describe, expect, it } from "vitest";

const BROWSER_GLOBALS = ["window", "document", "location", "EventSource", "WebSocket"] as const;
const saved = new Map<string, PropertyDescriptor | undefined>();

function trapBrowserGlobals(): string[] {
  const touched: string[] = [];
  for (const name of BROWSER_GLOBALS) {
    saved.set(name, Object.getOwnPropertyDescriptor(globalThis, name));
    Object.defineProperty(globalThis, name, {
      configurable: true,
      get() {
        touched.push(name);
        return undefined;
      },
    });
  }
  return touched;
}

afterEach(() => {
  for (const [name, descriptor] of saved) {
    if (descriptor) Object.defineProperty(globalThis, name, descriptor);
    else delete (globalThis as Record<string, unknown>)[name];
  }
  saved.clear();
});

describe("server-side rendering", () => {
  it("imports both entries and renders the hook without touching browser globals", async () => {
    const touched = trapBrowserGlobals();
    const client = await import("../src/index.js");
    const { useRealtimeUpdates } = await import("../src/react.js");
    expect(typeof client.RealtimeClient).toBe("function");

    function Badge() {
      const { isConnected, updates, updateCount } = useRealtimeUpdates({
        tenant: "demo",
        token: "jwt-1",
        onUpdate: () => {},
      });
      return createElement("span", null, `${isConnected ? "Live" : "Offline"} ${updates.length} ${updateCount}`);
    }
    expect(renderToString(createElement(Badge))).toBe("<span>Offline 0 0</span>");
    expect(touched).toEqual([]);
  });
});
