/**
 * The console's static files inside a Lambda bundle: esbuild's text loader
 * (BUNDLE_OPTIONS.loader in infra/bundling.ts) turns each import into the
 * file's text, so the function needs no file beside its one index.mjs.
 * Only bundles import this module; Node itself cannot.
 */

import uplotJs from "uplot/dist/uPlot.iife.min.js";
import uplotCss from "uplot/dist/uPlot.min.css";
import { assetsOf, type ConsoleAssets } from "./assets.ts";
import consoleCss from "./static/console.asset.css";
import consoleJs from "./static/console.asset.js";

export const bundledAssets = (): ConsoleAssets =>
  assetsOf({
    "console.css": consoleCss,
    "console.js": consoleJs,
    "uplot.css": uplotCss,
    "uplot.js": uplotJs,
  });
