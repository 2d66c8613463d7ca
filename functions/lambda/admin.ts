/**
 * Lambda entry point of the admin surface and the console (operators' and
 * finance's pages, which call the admin and metrics routes in-process): a
 * thin shell around createApp.
 */
import { createApp } from "../app.ts";
import { bundledAssets } from "../console/assets-bundled.ts";
import { consoleSurface } from "../console/surface.tsx";
import { adminSurface } from "../surfaces/admin.ts";
import { lazyHandler } from "./runtime.ts";

export { awsClients } from "./runtime.ts";

export const handler = lazyHandler((gw) =>
  createApp(gw, [adminSurface, consoleSurface({ assets: bundledAssets() })]),
);
