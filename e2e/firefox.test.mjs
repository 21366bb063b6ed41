// The no-Background-Sync behaviour (./fallback.mjs) in Firefox: Debian's firefox-esr,
// headless, under geckodriver (./engines.mjs).
import { fallbackTests } from "./fallback.mjs";
import { launchFirefox } from "./engines.mjs";

fallbackTests("Firefox", launchFirefox);
