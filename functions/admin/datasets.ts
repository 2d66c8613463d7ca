/** Operators: datasets, their field classification, core markers and export control. */
import { Hono } from "hono";
import { checkDatasetTexts } from "../../policies/catalog.ts";
import { classify } from "../../policies/fields.ts";
import { compileMarkers } from "../../policies/markers/index.ts";
import { type Dataset, DatasetInput } from "../../policies/model.ts";
import { InvalidRequestError, NotFoundError, RuleViolationError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import type { AppEnv } from "../http/env.ts";
import { parseWith, readJsonWith } from "../http/validate.ts";
import { auditedWrite, PageQuery } from "./common.ts";

/**
 * Rules a dataset must keep beyond its shape: an existing owner, compilable
 * and safe markers, a title and description that name no core field.
 */
async function checkDataset(gw: Gateway, input: DatasetInput): Promise<void> {
  const [named, ...more] = checkDatasetTexts(input);
  if (named !== undefined)
    throw new RuleViolationError(named.code, named.message, [named, ...more]);
  for (const [i, p] of (input.pseudonymize ?? []).entries()) {
    if (classify(input.fields, p) !== "personal") {
      throw new InvalidRequestError(`pseudonymize.${i}`, `${p} is not classified personal`);
    }
  }
  if (input.coreMarkers.length > 0) {
    const compiled = compileMarkers(input.coreMarkers);
    if (!compiled.ok) {
      const invalid = compiled.issues.find((i) => i.code === "invalid_pattern");
      if (invalid !== undefined)
        throw new InvalidRequestError(`coreMarkers.${invalid.index}`, invalid.message);
      const first = compiled.issues[0];
      throw new RuleViolationError(
        "unsafe_pattern",
        first?.message ?? "a core marker is unsafe",
        compiled.issues.map((i) => ({
          code: i.code,
          message: i.message,
          field: `coreMarkers.${i.index}`,
        })),
      );
    }
  }
  if ((await gw.registry.getPartner(input.owner)) === undefined) {
    throw new RuleViolationError("partner_not_found", `the owner ${input.owner} is not a partner`, [
      {
        code: "partner_not_found",
        message: `partner ${input.owner} does not exist`,
        field: "owner",
      },
    ]);
  }
}

export async function loadDataset(gw: Gateway, id: string) {
  const found = await gw.registry.getDataset(id);
  if (found === undefined)
    throw new NotFoundError("dataset_not_found", `dataset ${id} does not exist`);
  return found;
}

export function datasetsApp(gw: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.post("/", async (c) => {
    const input = await readJsonWith(c, DatasetInput);
    await checkDataset(gw, input);
    const now = gw.clock().toISOString();
    const dataset: Dataset = { ...input, version: 1, createdAt: now, updatedAt: now };
    await auditedWrite(
      gw,
      c,
      {
        action: "dataset.create",
        target: `dataset:${dataset.id}`,
        partners: [dataset.owner],
        details: { dataset },
      },
      gw.registry.datasetOps(dataset, null),
      [],
      `the dataset id ${dataset.id} is taken`,
    );
    return c.json(dataset, 201);
  });

  app.get("/", async (c) => {
    const q = parseWith(PageQuery, c.req.query());
    return c.json(await gw.registry.listDatasets(q.limit, q.cursor));
  });

  app.get("/:id", async (c) => c.json((await loadDataset(gw, c.req.param("id"))).value));

  app.put("/:id", async (c) => {
    const input = await readJsonWith(c, DatasetInput);
    const { value, rev } = await loadDataset(gw, c.req.param("id"));
    if (input.id !== value.id) throw new InvalidRequestError("id", "must be the id in the path");
    if (input.owner !== value.owner) {
      throw new RuleViolationError(
        "provider_not_owner",
        "a dataset's owner cannot change; register a new dataset",
      );
    }
    await checkDataset(gw, input);
    const dataset: Dataset = {
      ...input,
      version: value.version + 1,
      createdAt: value.createdAt,
      updatedAt: gw.clock().toISOString(),
    };
    await auditedWrite(
      gw,
      c,
      {
        action: "dataset.update",
        target: `dataset:${dataset.id}`,
        partners: [dataset.owner],
        details: { version: dataset.version, dataset },
      },
      gw.registry.datasetOps(dataset, rev),
    );
    return c.json(dataset);
  });

  return app;
}
