/** Every surface: the whole gateway on one port (the local server, the tests). */
import type { Surface } from "../app.ts";
import { adminSurface } from "./admin.ts";
import { exchangeSurface } from "./exchange.ts";
import { metaSurface } from "./meta.ts";
import { metricsSurface } from "./metrics.ts";
import { selfServiceSurface } from "./self-service.ts";
import { tokenSurface } from "./token.ts";
import { transfersSurface } from "./transfers.ts";

export const ALL_SURFACES: readonly Surface[] = [
  tokenSurface,
  exchangeSurface,
  transfersSurface,
  selfServiceSurface,
  adminSurface,
  metricsSurface,
  metaSurface,
];
