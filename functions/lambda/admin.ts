/** Lambda entry point of the admin surface: a thin shell around createApp. */
import { createApp } from "../app.ts";
import { adminSurface } from "../surfaces/admin.ts";
import { lazyHandler } from "./runtime.ts";

export const handler = lazyHandler((gw) => createApp(gw, [adminSurface]));
