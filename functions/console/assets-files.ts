/** The console's static files read from the repository and node_modules (local server, tests). */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { assetsOf, type ConsoleAssets } from "./assets.ts";

let loaded: ConsoleAssets | undefined;

export function fileAssets(): ConsoleAssets {
  if (loaded !== undefined) return loaded;
  const require = createRequire(import.meta.url);
  const own = (file: string) => readFileSync(new URL(`./static/${file}`, import.meta.url), "utf8");
  const dep = (path: string) => readFileSync(require.resolve(path), "utf8");
  loaded = assetsOf({
    "console.css": own("console.asset.css"),
    "console.js": own("console.asset.js"),
    "uplot.css": dep("uplot/dist/uPlot.min.css"),
    "uplot.js": dep("uplot/dist/uPlot.iife.min.js"),
  });
  return loaded;
}
