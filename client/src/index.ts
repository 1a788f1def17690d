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
  Note,
  Order,
  OrderEvent,
  OrderEventType,
  OrderItem,
  OrderLock,
  OrderStatus,
} from "./types.js";
export {
  EMPTY_PRESENCE,
  TYPING_TTL_MS,
  editorsOf,
  presenceReducer,
  viewersOf,
  type PresenceAction,
  type PresenceEditing,
  type PresenceState,
  type PresenceUser,
  type TypingEntry,
} from "./presence.js";
