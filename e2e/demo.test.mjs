// The demo as `make demo` serves it: the reference server serving the page and pkg/ on
// the same origin as the sync API. Two browsers of one user (separate profiles, so
// separate IndexedDB: two devices) see each other's items through the server, and a
// second tab of one browser sees that tab's writes at once (BroadcastChannel).
import { test } from "node:test";
import assert from "node:assert/strict";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, launch, startServer } from "./lib.mjs";

test("two browsers of the demo sync through the server", async () => {
  const site = await mkdtemp(join(tmpdir(), "pwa-sync-site-"));
  await cp(join(ROOT, "demo/index.html"), join(site, "index.html"));
  await cp(join(ROOT, "pkg"), join(site, "pkg"), { recursive: true });
  const server = await startServer(["--static", site]);
  const browser = await launch();
  try {
    const [one, two] = [await (await browser.newContext()).newPage(), await (await browser.newContext()).newPage()];
    const errors = [];
    for (const page of [one, two]) page.on("pageerror", (e) => errors.push(e.message));
    await one.goto(`${server.url}/?user=ana`);
    await two.goto(`${server.url}/?user=ana`);
    for (const page of [one, two]) await page.getByText("synced", { exact: true }).waitFor({ timeout: 15_000 });

    await one.getByLabel("New item").fill("passport");
    await one.getByRole("button", { name: "Add" }).click();
    await two.getByText("passport").waitFor({ timeout: 15_000 });

    await two.getByLabel("New item").fill("charger");
    await two.getByRole("button", { name: "Add" }).click();
    await one.getByText("charger").waitFor({ timeout: 15_000 });
    await one.getByText("0 pending").waitFor({ timeout: 15_000 });

    await one.getByRole("button", { name: "Remove passport" }).click();
    await two.getByText("passport").waitFor({ state: "detached", timeout: 15_000 });

    // A second tab of the first browser shares its database and hears of its writes.
    const sibling = await one.context().newPage();
    await sibling.goto(`${server.url}/?user=ana`);
    await sibling.getByText("charger").waitFor({ timeout: 15_000 });
    await one.getByLabel("New item").fill("socks");
    await one.getByRole("button", { name: "Add" }).click();
    await sibling.getByText("socks").waitFor({ timeout: 15_000 });
    await two.getByText("socks").waitFor({ timeout: 15_000 });

    // Another user sees nothing of Ana's.
    const other = await (await browser.newContext()).newPage();
    await other.goto(`${server.url}/?user=bo`);
    await other.getByText("synced", { exact: true }).waitFor({ timeout: 15_000 });
    assert.equal(await other.getByRole("listitem").count(), 0);

    await one.screenshot({ path: join(ROOT, "e2e/artifacts/demo-two-browsers.png") });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await server.stop();
    await rm(site, { recursive: true, force: true });
  }
});
