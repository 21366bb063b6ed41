// The package's main entry: the generated module, with `init` checked to run in a browser.
import type { InitInput, InitOutput } from "./pwa_sync.js";
export * from "./pwa_sync.js";

/**
 * Load the WebAssembly module (once per page or worker) before `SyncClient.open`. Outside
 * a browser (server rendering) it rejects with a `PwaSyncError` (code `storage`) that says
 * to open the client in the browser, unless it is given the module itself.
 */
export default function init(
  module_or_path?: { module_or_path: InitInput | Promise<InitInput> } | InitInput | Promise<InitInput>,
): Promise<InitOutput>;
