// Browsers driven through W3C WebDriver (selenium-webdriver as a plain client: no Selenium
// Manager, nothing downloaded), for the tests that must run in every engine:
// - WebKit: Debian's WebKitGTK MiniBrowser under WebKitWebDriver on a private Xvfb;
// - Firefox: Debian's firefox-esr, headless, under geckodriver (`cargo install geckodriver`);
// - Chromium: Debian's chromium, headless, under chromedriver.
// The processes are stopped by `stop()`, and killed when this process exits. Each is
// started again, driver and all, when the session could not be created (browser-start.mjs).
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { Builder } from "selenium-webdriver";
import { startBrowser } from "./browser-start.mjs";

export const MINIBROWSER = process.env.PWA_SYNC_MINIBROWSER ?? "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";
export const FIREFOX = process.env.PWA_SYNC_FIREFOX ?? "/usr/bin/firefox-esr";

const running = new Set();
process.once("exit", () => { for (const child of running) child.kill("SIGKILL"); });

function track(child) {
  running.add(child);
  child.once("exit", () => running.delete(child));
  return child;
}

async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000)).then(() => child.kill("SIGKILL"))]);
}

/** Xvfb on a display it picks itself (-displayfd); resolves to {display, child}. */
async function startXvfb() {
  const child = track(spawn("Xvfb", ["-displayfd", "3", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
    { stdio: ["ignore", "ignore", "pipe", "pipe"] }));
  let stderr = "";
  child.stderr.on("data", (d) => { stderr = (stderr + d).slice(-5000); });
  const display = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`Xvfb did not start: ${stderr}`)), 20_000);
    child.stdio[3].on("data", (d) => {
      out += d;
      if (out.includes("\n")) { clearTimeout(timer); resolve(`:${out.trim()}`); }
    });
    child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`Xvfb exited with ${code}: ${stderr}`)); });
    child.once("error", (e) => { clearTimeout(timer); reject(new Error(`Xvfb: ${e.message} (scripts/setup.sh browsers installs xvfb)`)); });
  });
  return { display, child };
}

async function freePort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

/** A WebDriver server (`command` with `args(port)`); resolves to {url, child} once it
 * answers /status. `hint` says how to install it. */
async function startDriver(command, args, env, hint) {
  const port = await freePort();
  const child = track(spawn(command, args(port), { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } }));
  let log = "";
  child.stdout.on("data", (d) => { log = (log + d).slice(-5000); });
  child.stderr.on("data", (d) => { log = (log + d).slice(-5000); });
  let failed = null;
  child.once("error", (e) => { failed = new Error(`${command}: ${e.message} (${hint})`); });
  child.once("exit", (code) => { failed ??= new Error(`${command} exited with ${code}: ${log}`); });
  const url = `http://127.0.0.1:${port}`;
  const end = Date.now() + 20_000;
  for (;;) {
    if (failed) throw failed;
    try {
      if ((await fetch(`${url}/status`)).ok) return { url, child };
    } catch { /* not listening yet */ }
    if (Date.now() > end) throw new Error(`${command} did not answer: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A session on a started driver; `stop()` ends it and then `stopAll`. */
async function session(driverUrl, capabilities, stopAll) {
  let driver;
  try {
    driver = await new Builder().usingServer(driverUrl).withCapabilities(capabilities).build();
  } catch (e) {
    await stopAll();
    throw e;
  }
  return {
    driver,
    stop: async () => {
      try { await driver.quit(); } finally { await stopAll(); }
    },
  };
}

/** A WebKit browser session; `stop()` ends it, the driver and the display. */
export const launchWebKit = () => startBrowser("WebKit", startWebKit);
async function startWebKit() {
  const xvfb = await startXvfb();
  const driverProcess = await startDriver("WebKitWebDriver", (port) => [`--port=${port}`, "--host=127.0.0.1"],
    { DISPLAY: xvfb.display }, "scripts/setup.sh browsers installs webkit2gtk-driver")
    .catch(async (e) => { await stopChild(xvfb.child); throw e; });
  return session(driverProcess.url, {
    browserName: "MiniBrowser",
    "webkitgtk:browserOptions": { binary: MINIBROWSER, args: ["--automation"] },
  }, async () => { await stopChild(driverProcess.child); await stopChild(xvfb.child); });
}

/**
 * A headless Firefox session. Firefox stops a service worker idle for 30 s; here after
 * 2 s, so a test can see a worker started again without waiting half a minute.
 */
export const launchFirefox = () => startBrowser("Firefox", startFirefox);
async function startFirefox() {
  const geckodriver = process.env.GECKODRIVER_BIN ?? `${process.env.HOME}/.cargo/bin/geckodriver`;
  const driverProcess = await startDriver(geckodriver, (port) => ["--port", String(port), "--host", "127.0.0.1"], {},
    "scripts/setup.sh browsers installs geckodriver");
  return session(driverProcess.url, {
    browserName: "firefox",
    "moz:firefoxOptions": {
      binary: FIREFOX,
      args: ["-headless"],
      prefs: { "dom.serviceWorkers.idle_timeout": 2000, "dom.serviceWorkers.idle_extended_timeout": 2000 },
    },
  }, () => stopChild(driverProcess.child));
}

/** A headless Chromium session (Debian's chromium and chromedriver). */
export const launchChromium = () => startBrowser("Chromium", startChromium);
async function startChromium() {
  const driverProcess = await startDriver(process.env.CHROMEDRIVER_BIN ?? "/usr/bin/chromedriver",
    (port) => [`--port=${port}`, "--allowed-ips=127.0.0.1"], {}, "scripts/setup.sh browsers installs chromium-driver");
  return session(driverProcess.url, {
    browserName: "chrome",
    "goog:chromeOptions": { binary: "/usr/bin/chromium", args: ["--headless=new", "--no-sandbox", "--disable-gpu"] },
  }, () => stopChild(driverProcess.child));
}

/** The state of the page's active service worker once `navigator.serviceWorker.ready`
 * resolves ("activating" or "activated"), or why it failed. */
export const activeWorkerState = (driver) => driver.executeAsyncScript(`const done = arguments[arguments.length - 1];
  navigator.serviceWorker.ready.then((r) => done(r.active?.state ?? null), (e) => done(String(e)));`);

/** The byte length of the .wasm at `path` (from the page's address) in the service-worker
 * helper's cache (the build's own, `pwa-sync-wasm-<build id>`, the only one there): 0 when
 * it is not there, a message when there is not exactly one such cache. */
export const cachedWasmBytes = (driver, path) => driver.executeAsyncScript(`const done = arguments[arguments.length - 1];
  caches.keys()
    .then((names) => names.filter((n) => n.startsWith("pwa-sync-wasm-")))
    .then((names) => names.length === 1 ? caches.open(names[0]) : Promise.reject("the helper's caches: " + names))
    .then((c) => c.match(new URL(${JSON.stringify(path)}, location.href).href))
    .then((r) => r ? r.arrayBuffer().then((b) => done(b.byteLength)) : done(0), (e) => done(String(e)));`);
