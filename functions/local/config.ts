/** The local server's settings (the contract's table), parsed once from the environment. */
import { resolve } from "node:path";
import * as z from "zod";
import { Id } from "../../policies/model.ts";
import { PeopleEnv } from "../people/settings.ts";

const flag = z.enum(["0", "1"]).transform((v) => v === "1");

/** `username:password` of a person of the embedded sign-in provider. */
const Person = z
  .string()
  .regex(
    /^[A-Za-z0-9._@-]{1,64}:[\x21-\x7e]{8,256}$/,
    "must be username:password (password: 8 or more printable characters)",
  )
  .transform((v) => {
    const at = v.indexOf(":");
    return { username: v.slice(0, at), password: v.slice(at + 1) };
  });

export const LocalEnv = z.object({
  PORT: z.coerce.number().int().min(1).max(65535).default(8787),
  DATA_DIR: z.string().min(1).default(".data"),
  OPERATOR_CLIENT_ID: Id.default("operator"),
  OPERATOR_CLIENT_SECRET: z.string().min(16).max(256).optional(),
  FINANCE_CLIENT_ID: Id.default("finance"),
  FINANCE_CLIENT_SECRET: z.string().min(16).max(256).optional(),
  TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(86_400).default(900),
  DEMO: flag.default(true),
  /** DPoP proofs must carry a server nonce (RFC 9449 §8). */
  DPOP_NONCE: flag.default(false),
  DYNAMODB_ENDPOINT: z.url().optional(),
  S3_ENDPOINT: z.url().optional(),
  /** Cap of a large transfer's body once decoded (bytes): past it, `failed` payload_too_large. */
  TRANSFER_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(5 * 1024 ** 3),
  HOST: z.string().default("127.0.0.1"),
  CONSOLE_OPERATOR: Person.optional(),
  CONSOLE_FINANCE: Person.optional(),
  ...PeopleEnv.shape,
});

export type LocalConfig = z.infer<typeof LocalEnv> & { readonly dataDir: string };

export function parseLocalEnv(env: NodeJS.ProcessEnv): LocalConfig {
  const blankless = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ""));
  const result = LocalEnv.safeParse(blankless);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`invalid settings:\n${lines.join("\n")}`);
  }
  return { ...result.data, dataDir: resolve(result.data.DATA_DIR) };
}
