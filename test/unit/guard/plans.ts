/**
 * Plans shared by the guard tests: the contract's vehicle-telemetry dataset
 * and agreement, with real compiled markers.
 */
import {
  compileGuardPlan,
  type GuardPlan,
  type GuardPlanInput,
} from "../../../policies/guard/index.ts";
import { compileMarkers, type MarkerMatcher } from "../../../policies/markers/index.ts";

export const KEY = new Uint8Array(32).fill(7);

export function markers(patterns: readonly string[]): MarkerMatcher {
  const compiled = compileMarkers(patterns);
  if (!compiled.ok)
    throw new Error(`test markers do not compile: ${JSON.stringify(compiled.issues)}`);
  return compiled.matcher;
}

/** The contract's example: vin, mileage, speed.avg shared; engine.calibration core; driver.name personal. */
export const TELEMETRY: GuardPlanInput = {
  classes: {
    vin: "shared",
    mileage: "shared",
    "speed.avg": "shared",
    "engine.calibration": "core",
    "driver.name": "personal",
  },
  granted: ["vin", "mileage", "speed.avg", "driver.name"],
  pseudonymize: ["driver.name"],
  recordsAt: "items",
  markers: markers(["CAL-[0-9]{6}"]),
  onMarker: "block",
  pseudonymKey: KEY,
};

export const plan = (overrides: Partial<GuardPlanInput> = {}): GuardPlan =>
  compileGuardPlan({ ...TELEMETRY, ...overrides });

/** The pseudonym the guard must write for a value, computed independently of the guard. */
export async function expectedPseudonym(value: unknown, key: Uint8Array = KEY): Promise<string> {
  const { createHmac } = await import("node:crypto");
  const mac = createHmac("sha256", key).update(JSON.stringify(value)).digest("base64url");
  return `ps_${mac.slice(0, 22)}`;
}
