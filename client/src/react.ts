// The package's "./react" entry: the React hook around `RealtimeClient`.
export {
  useRealtimeUpdates,
  type UseRealtimeUpdatesOptions,
  type UseRealtimeUpdatesResult,
} from "./useRealtimeUpdates.js";
