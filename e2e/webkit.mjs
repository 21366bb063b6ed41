// WebKitGTK for the end-to-end tests: Debian's MiniBrowser driven by WebKitWebDriver on a
// private Xvfb display, through selenium-webdriver (as a plain W3C WebDriver client: no
// Selenium Manager, nothing downloaded). Both processes are stopped by `stop()`, and
// killed when this process exits.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { Builder } from "selenium-webdriver";

export const MINIBROWSER = process.env.PWA_SYNC_MINIBROWSER ?? "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";

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

/** WebKitWebDriver on `display`; resolves to {url, child} once it answers /status. */
async function startDriver(display) {
  const port = await freePort();
  const child = track(spawn("WebKitWebDriver", [`--port=${port}`, "--host=127.0.0.1"],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, DISPLAY: display } }));
  let log = "";
  child.stdout.on("data", (d) => { log = (log + d).slice(-5000); });
  child.stderr.on("data", (d) => { log = (log + d).slice(-5000); });
  let failed = null;
  child.once("error", (e) => { failed = new Error(`WebKitWebDriver: ${e.message} (scripts/setup.sh browsers installs webkit2gtk-driver)`); });
  child.once("exit", (code) => { failed ??= new Error(`WebKitWebDriver exited with ${code}: ${log}`); });
  const url = `http://127.0.0.1:${port}`;
  const end = Date.now() + 20_000;
  for (;;) {
    if (failed) throw failed;
    try {
      if ((await fetch(`${url}/status`)).ok) return { url, child };
    } catch { /* not listening yet */ }
    if (Date.now() > end) throw new Error(`WebKitWebDriver did not answer: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A WebKit browser session; `stop()` ends it, the driver and the display. */
export async function launchWebKit() {
  const xvfb = await startXvfb();
  const driverProcess = await startDriver(xvfb.display).catch(async (e) => { await stopChild(xvfb.child); throw e; });
  const stopAll = async () => { await stopChild(driverProcess.child); await stopChild(xvfb.child); };
  let driver;
  try {
    driver = await new Builder()
      .usingServer(driverProcess.url)
      .withCapabilities({
        browserName: "MiniBrowser",
        "webkitgtk:browserOptions": { binary: MINIBROWSER, args: ["--automation"] },
      })
      .build();
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
