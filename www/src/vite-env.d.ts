/// <reference types="vite/client" />
import type { CollectionEventDetail } from "pwa-sync";

declare global {
  interface WindowEventMap {
    /** The `attendees` collection's own event (config: `event: {name, valueField: "attendee"}`). */
    "attendee-data-updated": CustomEvent<CollectionEventDetail>;
    "pwa-sync:cleared": CustomEvent<{ origin: "local" | "tab" }>;
  }
}
