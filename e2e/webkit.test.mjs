// The no-Background-Sync behaviour (./fallback.mjs) in WebKit, Safari's engine: Debian's
// WebKitGTK MiniBrowser under WebKitWebDriver on a private Xvfb (./engines.mjs).
import { fallbackTests } from "./fallback.mjs";
import { launchWebKit } from "./engines.mjs";

fallbackTests("WebKit", launchWebKit);
