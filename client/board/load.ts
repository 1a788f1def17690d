// One list load of the board: every open order, and delivered / cancelled orders changed in the
// last ARCHIVE_DAYS days (older ones on demand). The caller reads the realtime cursor before it
// (see orders.ts for why that closes every gap).
import type { Order, OrderStatus } from "../src/index.js";
import type { BoardApi } from "./api.js";
import { ARCHIVE_STATUSES, DAY_MS, type ArchiveStatus } from "./orders.js";

const OPEN_STATUSES: OrderStatus[] = ["new", "in_progress", "ready", "out_for_delivery"];
const MAX_PAGES = 50;

export async function loadBoard(
  api: BoardApi,
  now: number,
  archiveDays: number,
): Promise<{ orders: Order[]; archive: Record<ArchiveStatus, string | null> }> {
  const cutoff = new Date(now - archiveDays * DAY_MS).toISOString();
  const open = OPEN_STATUSES.map(async (status) => {
    const orders: Order[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const body = await api.listPage({ status, cursor, limit: 200 });
      orders.push(...body.orders);
      cursor = body.nextCursor;
      if (!cursor) break;
    }
    return orders;
  });
  // The list is newest change first: stop once a page reaches past the cutoff.
  const archived = ARCHIVE_STATUSES.map(async (status) => {
    const orders: Order[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const body = await api.listPage({ status, cursor, limit: 50 });
      orders.push(...body.orders);
      cursor = body.nextCursor;
      const last = body.orders[body.orders.length - 1];
      if (!cursor || !last || last.updatedAt < cutoff) break;
    }
    return { orders, cursor };
  });
  const [openLists, archiveLists] = await Promise.all([Promise.all(open), Promise.all(archived)]);
  const [delivered, cancelled] = archiveLists;
  return {
    orders: [...openLists.flat(), ...archiveLists.flatMap((a) => a.orders)],
    archive: { delivered: delivered?.cursor ?? null, cancelled: cancelled?.cursor ?? null },
  };
}
