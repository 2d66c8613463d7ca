/** Every surface: the whole gateway on one port (the local server, the tests). */
import type { Surface } from "../app.ts";
import { adminSurface } from "./admin.ts";
import { exchangeSurface } from "./exchange.ts";
import { metaSurface } from "./meta.ts";
import { metricsSurface } from "./metrics.ts";
import { selfServiceSurface } from "./self-service.ts";
import { tokenSurface } from "./token.ts";

export const ALL_SURFACES: readonly Surface[] = [
  tokenSurface,
  exchangeSurface,
  selfServiceSurface,
  adminSurface,
  metricsSurface,
  metaSurface,
];
