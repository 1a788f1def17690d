// The package's main entry: the framework-free client. Nothing here imports React; the hook is
// in "./react" (src/react.ts).
export {
  RealtimeClient,
  RealtimeError,
  type RealtimeClientOptions,
  type RealtimeLogger,
  type RealtimeMode,
  type RealtimeState,
} from "./realtimeClient.js";
export type {
  EventSourceConstructor,
  EventSourceLike,
  TransportName,
  WebSocketConstructor,
  WebSocketLike,
} from "./transport.js";
export type {
  Order,
  OrderEvent,
  OrderEventType,
  OrderItem,
  OrderStatus,
} from "./types.js";
