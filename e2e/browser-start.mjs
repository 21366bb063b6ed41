// Starting a browser, tried again when it does not start: the same rule as the browser
// suites' runner (scripts/wasm-test-runner.sh). A browser that exits at start ran none of
// our code, so it is not a test result; CI of b0750f1 lost a run to one. At most twice
// more, 5 s apart; each failed try goes to stderr and to the log `make test-e2e` names
// (PWA_SYNC_RERUNS), which it prints at its end (scripts/reruns.sh).
import { appendFileSync } from "node:fs";

export const START_TRIES = 3;

/** Resolves to `start()`'s value, calling it up to `tries` times while it rejects. */
export async function startBrowser(what, start, { tries = START_TRIES, pauseMs = 5000, log = process.env.PWA_SYNC_RERUNS } = {}) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (attempt >= tries) throw error;
      const message = String(error?.message ?? error).split("\n").find((line) => line.trim() !== "") ?? "";
      const line = `${new Date().toISOString().slice(0, 19)}Z e2e ${what}: try ${attempt}: the browser did not start: ${message}`;
      console.error(`browser-start: ${line}; trying again in ${pauseMs / 1000} s`);
      if (log) appendFileSync(log, `${line}\n`);
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }
}
