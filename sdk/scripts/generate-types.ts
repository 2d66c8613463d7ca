/**
 * The SDK's API types, generated from the gateway's own OpenAPI document
 * (the one `GET /openapi.json` serves, built from the validating zod
 * schemas) with openapi-typescript. `npm run sdk:types` writes them;
 * test/sdk/generated.test.ts fails when the committed file is stale.
 */

import { realpathSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import openapiTS, { astToString, COMMENT_HEADER } from "openapi-typescript";
import { openapiDocument } from "../../functions/openapi/document.ts";

export const GENERATED_FILE = new URL("../src/generated/gateway-api.ts", import.meta.url);

const HEADER = `${COMMENT_HEADER.trimEnd()}
// From the gateway's OpenAPI document: regenerate with \`npm run sdk:types\`.

`;

/** The generated module's text, as it must be committed. */
export async function generatedTypes(): Promise<string> {
  // The document is frozen; the generator annotates what it is given.
  const doc = structuredClone(openapiDocument()) as unknown as Parameters<typeof openapiTS>[0];
  // A member with a default is optional in a request: the gateway fills it in.
  const ast = await openapiTS(doc, { silent: true, defaultNonNullable: false });
  return HEADER + astToString(ast);
}

function isProgram(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isProgram()) {
  const text = await generatedTypes();
  await writeFile(GENERATED_FILE, text);
  process.stdout.write(`wrote ${GENERATED_FILE.pathname} (${text.length} characters)\n`);
}
