export {
  RealtimeClient,
  RealtimeError,
  type EventSourceConstructor,
  type EventSourceLike,
  type Order,
  type OrderEvent,
  type OrderEventType,
  type OrderItem,
  type OrderStatus,
  type RealtimeClientOptions,
  type RealtimeMode,
  type RealtimeState,
} from "./realtimeClient.js";
export {
  useRealtimeUpdates,
  type UseRealtimeUpdatesOptions,
  type UseRealtimeUpdatesResult,
} from "./useRealtimeUpdates.js";
