/**
 * The console's static files: its stylesheet and script, and the charting
 * library (uPlot) with its stylesheet, all served by the gateway itself
 * (nothing from a CDN). Locally they are read from the repository and
 * node_modules (assets-files.ts); the Lambda bundle carries them as text
 * (assets-bundled.ts, esbuild's text loader).
 */
import { createHash } from "node:crypto";

export const ASSET_TYPES = {
  "console.css": "text/css; charset=utf-8",
  "console.js": "text/javascript; charset=utf-8",
  "uplot.css": "text/css; charset=utf-8",
  "uplot.js": "text/javascript; charset=utf-8",
} as const;
export type AssetName = keyof typeof ASSET_TYPES;

export interface Asset {
  readonly body: string;
  readonly type: string;
  /** A strong validator: the body's SHA-256. */
  readonly etag: string;
}

export interface ConsoleAssets {
  get(name: string): Asset | undefined;
}

export function assetsOf(texts: Readonly<Record<AssetName, string>>): ConsoleAssets {
  const map = new Map<string, Asset>();
  for (const [name, type] of Object.entries(ASSET_TYPES)) {
    const body = texts[name as AssetName];
    const hash = createHash("sha256").update(body).digest("base64url");
    map.set(name, { body, type, etag: `"${hash}"` });
  }
  return { get: (name) => map.get(name) };
}
