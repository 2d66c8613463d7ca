/**
 * The set-up integration tests declare instead of repeating it: a test names
 * what it needs, `it("…", async ({ t, eco }) => …)`, and gets it.
 *
 * - `t`: the file's gateway (DynamoDB Local tables of its own, fresh keys, a
 *   controllable clock). Named `t` as every helper that takes it names it.
 * - `ecosystem(options?)`: a new ecosystem on `t` (partners with backends on
 *   loopback, a dataset, an agreement), closed after the file's last test.
 * - `eco`: the file's one shared ecosystem, made by `ecosystem()`.
 *
 * All three are file-scoped: made once per file, for the first test (or
 * `test.beforeAll`) that asks. A file that needs them made differently
 * redefines one: `test.extend("eco", { scope: "file" }, ({ ecosystem }) =>
 * ecosystem({ agreement: { quota } }))`; what depends on it follows.
 */
import { test as base } from "vitest";
import { createEcosystem, type Ecosystem } from "./ecosystem.ts";
import { createTestGateway } from "./gateway.ts";

export type EcosystemOptions = Parameters<typeof createEcosystem>[1];

export const test = base
  .extend("t", { scope: "file" }, () => createTestGateway())
  .extend("ecosystem", { scope: "file" }, ({ t }, { onCleanup }) => {
    const made: Ecosystem[] = [];
    onCleanup(async () => {
      for (const e of made) await e.close();
    });
    return async (options?: EcosystemOptions): Promise<Ecosystem> => {
      const e = await createEcosystem(t, options);
      made.push(e);
      return e;
    };
  })
  .extend("eco", { scope: "file" }, ({ ecosystem }) => ecosystem());

export const it = test;
