import { useSyncExternalStore } from "react";

const never = () => () => undefined;

/** The browser's time zone (UTC while rendering on the server, so hydration matches). */
export function useBrowserZone(): string {
  return useSyncExternalStore(
    never,
    () => Intl.DateTimeFormat().resolvedOptions().timeZone,
    () => "UTC",
  );
}
