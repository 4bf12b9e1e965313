/** Binds a framework-free store (`subscribe` + `state`) to a React component. */
import { useSyncExternalStore } from "react";

/** The current state of `store`, re-rendering on every change. */
export function useStore<S>(
  store: { state(): S; subscribe(listener: (state: S) => void): () => void },
): S {
  return useSyncExternalStore((onChange) => store.subscribe(onChange), () => store.state());
}
