// Chromium through WebDriver (./engines.mjs): where periodic sync is not granted (it needs
// an installed app), an open page pulls by its `pullIntervalMs`, as in the other engines
// (./fallback.mjs). Chromium's Background Sync paths are e2e/sw.test.mjs's.
import { before, after } from "node:test";
import { pullIntervalTest } from "./fallback.mjs";
import { launchChromium } from "./engines.mjs";
import { siteWithPkg } from "./lib.mjs";

let site;
before(async () => { site = await siteWithPkg("webkit-site"); });
after(async () => site.remove());

pullIntervalTest("Chromium", launchChromium, () => site);
