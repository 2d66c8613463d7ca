/**
 * Where people (operators, finance) sign in: an OpenID provider the gateway
 * trusts as a relying party (the console) and as a resource server (Bearer
 * access tokens on the admin and metrics routes). Parsed once from the
 * environment (`OIDC_*`), the same way locally and in Lambda.
 */
import * as z from "zod";

/** The roles a person can hold: the operators' and finance's scopes. */
export const PERSON_ROLES = ["admin", "metrics:read"] as const;
export type PersonRole = (typeof PERSON_ROLES)[number];

export interface PeopleSettings {
  /** `iss` of the provider; discovery is `<issuer>/.well-known/openid-configuration`. */
  readonly issuer: string;
  /** The console's client at the provider. */
  readonly clientId: string;
  /** Set for a confidential client (client_secret_basic); unset: a public client (PKCE only). */
  readonly clientSecret?: string | undefined;
  /** What access tokens must name as their audience. */
  readonly audience: string;
  /** The claim holding the audience: `aud` (RFC 9068, Entra, Okta) or `client_id` (Cognito). */
  readonly audienceClaim: "aud" | "client_id";
  /** The claim holding the person's groups or roles (`groups`, `cognito:groups`, `roles`). */
  readonly rolesClaim: string;
  /** Group or role name at the provider → the gateway roles it grants. */
  readonly roleMap: Readonly<Record<string, readonly PersonRole[]>>;
  /** The claim naming the person in the audit trail (`person:<value>`). */
  readonly usernameClaim: string;
  /** Scopes the console asks for. */
  readonly scopes: string;
  /** RFC 8707 `resource` sent with the authorization request, where the provider needs one. */
  readonly resource?: string | undefined;
  /** The longest access-token lifetime accepted (exp − iat), in seconds. */
  readonly maxTokenLifetimeSeconds: number;
}

/** `operators=admin,finance=metrics:read`: each group may grant several roles (`a=admin+metrics:read`). */
export function parseRoleMap(text: string): Record<string, PersonRole[]> {
  const map: Record<string, PersonRole[]> = {};
  for (const entry of text.split(",")) {
    const trimmed = entry.trim();
    if (trimmed === "") continue;
    const at = trimmed.lastIndexOf("=");
    if (at <= 0) throw new Error(`role map entry "${trimmed}" is not group=role`);
    const group = trimmed.slice(0, at).trim();
    const roles = trimmed
      .slice(at + 1)
      .split("+")
      .map((r) => r.trim());
    for (const role of roles) {
      if (!(PERSON_ROLES as readonly string[]).includes(role)) {
        throw new Error(
          `role map entry "${trimmed}": ${role} is not one of ${PERSON_ROLES.join(", ")}`,
        );
      }
    }
    map[group] = [...new Set([...(map[group] ?? []), ...(roles as PersonRole[])])];
  }
  return map;
}

export const DEFAULT_ROLE_MAP = "operators=admin,finance=metrics:read";

const httpsOrLoopback = z
  .url()
  .refine((u) => !u.endsWith("/"), "must not end with a slash")
  .refine((u) => {
    const url = new URL(u);
    return (
      url.protocol === "https:" ||
      (url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname))
    );
  }, "must be https (http only on loopback)");

/** The `OIDC_*` variables; `OIDC_ISSUER` unset means no external provider is configured. */
export const PeopleEnv = z.object({
  OIDC_ISSUER: httpsOrLoopback.optional(),
  OIDC_CLIENT_ID: z.string().min(1).max(256).optional(),
  OIDC_CLIENT_SECRET: z.string().min(1).max(512).optional(),
  OIDC_AUDIENCE: z.string().min(1).max(512).optional(),
  OIDC_AUDIENCE_CLAIM: z.enum(["aud", "client_id"]).default("aud"),
  OIDC_ROLES_CLAIM: z.string().min(1).max(128).default("groups"),
  OIDC_ROLE_MAP: z.string().min(3).default(DEFAULT_ROLE_MAP),
  OIDC_USERNAME_CLAIM: z.string().min(1).max(128).default("sub"),
  OIDC_SCOPES: z.string().min(6).default("openid"),
  OIDC_RESOURCE: z.string().min(1).optional(),
  OIDC_MAX_TOKEN_LIFETIME_SECONDS: z.coerce.number().int().min(60).max(86_400).default(86_400),
});
export type PeopleEnv = z.infer<typeof PeopleEnv>;

/**
 * The provider's settings from the environment, or undefined when no
 * `OIDC_ISSUER` is set. The client id is required with an issuer; the
 * audience defaults to it (Cognito's access tokens carry it as `client_id`).
 */
export function peopleSettingsFromEnv(env: PeopleEnv): PeopleSettings | undefined {
  if (env.OIDC_ISSUER === undefined) return undefined;
  if (env.OIDC_CLIENT_ID === undefined)
    throw new Error("OIDC_CLIENT_ID is required with OIDC_ISSUER");
  if (!env.OIDC_SCOPES.split(" ").includes("openid"))
    throw new Error("OIDC_SCOPES must include openid");
  return {
    issuer: env.OIDC_ISSUER,
    clientId: env.OIDC_CLIENT_ID,
    clientSecret: env.OIDC_CLIENT_SECRET,
    audience: env.OIDC_AUDIENCE ?? env.OIDC_CLIENT_ID,
    audienceClaim: env.OIDC_AUDIENCE_CLAIM,
    rolesClaim: env.OIDC_ROLES_CLAIM,
    roleMap: parseRoleMap(env.OIDC_ROLE_MAP),
    usernameClaim: env.OIDC_USERNAME_CLAIM,
    scopes: env.OIDC_SCOPES,
    resource: env.OIDC_RESOURCE,
    maxTokenLifetimeSeconds: env.OIDC_MAX_TOKEN_LIFETIME_SECONDS,
  };
}
