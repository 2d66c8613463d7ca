/**
 * The embedded OpenID provider of `npm start`: oidc-provider (certified,
 * well kept) mounted at `<gateway>/idp` on the gateway's own port, with the
 * two people of CONSOLE_OPERATOR / CONSOLE_FINANCE and one client, the
 * console. Its issuer is never the gateway's token issuer.
 *
 * What is ours: the sign-in page (labelled fields, no external fonts, a
 * wrong password refused with a message), the people, and the claims:
 * access tokens are JWTs (ES256) for the gateway as a resource, carrying the
 * person's `groups` and `preferred_username`, where the gateway reads them.
 * The provider asks for the password at every sign-in (it keeps no
 * single-sign-on session that could outlive a console sign-out).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { exportJWK, generateKeyPair } from "jose";
import Provider, {
  type Configuration,
  errors,
  interactionPolicy,
  type KoaContextWithOIDC,
} from "oidc-provider";
import type { ConsoleAssets } from "../console/assets.ts";

export interface LocalPerson {
  readonly username: string;
  readonly password: string;
  readonly name: string;
  readonly groups: readonly string[];
}

export interface EmbeddedIdp {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The resource (audience) of the access tokens it issues. */
  readonly resource: string;
  /** Serves a request under `/idp`; false (untouched) for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

export interface EmbeddedIdpOptions {
  /** The gateway's base URL; the issuer is `<base>/idp`. */
  readonly base: string;
  readonly people: readonly LocalPerson[];
  /** The console's redirect URI. */
  readonly redirectUri: string;
  /** `aud` of the access tokens: the gateway. */
  readonly resource: string;
  readonly accessTokenTtlSeconds: number;
  readonly assets: ConsoleAssets;
}

export const IDP_PATH = "/idp";
export const CONSOLE_CLIENT_ID = "console";

const sha256 = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();

/** Constant-time comparison of what was typed with what is expected. */
function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(sha256(given), sha256(expected));
}

const SECURITY_HEADERS = {
  "Content-Security-Policy":
    "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "same-origin",
  "Cache-Control": "no-store",
} as const;

function SignInPage(props: { action: string; username?: string; error?: string }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>Sign in · Data-sharing gateway</title>
        <link rel="stylesheet" href={`${IDP_PATH}/assets/console.css`} />
      </head>
      <body>
        <main>
          <section class="sign-in" aria-labelledby="sign-in-title">
            <h1 id="sign-in-title">Sign in to the gateway console</h1>
            {props.error === undefined ? null : (
              <p class="error" role="alert">
                {props.error}
              </p>
            )}
            <form method="post" action={props.action}>
              <label for="username">Username</label>
              <input
                id="username"
                name="username"
                type="text"
                autocomplete="username"
                required
                value={props.username ?? ""}
                autofocus={props.username === undefined}
              />
              <label for="password">Password</label>
              <input
                id="password"
                name="password"
                type="password"
                autocomplete="current-password"
                required
                autofocus={props.username !== undefined}
              />
              <button type="submit">Sign in</button>
            </form>
          </section>
        </main>
      </body>
    </html>
  );
}

function MessagePage(props: { title: string; message: string }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>{props.title}</title>
        <link rel="stylesheet" href={`${IDP_PATH}/assets/console.css`} />
      </head>
      <body>
        <main>
          <h1>{props.title}</h1>
          <p>{props.message}</p>
          <p>
            <a href="/console">Back to the console</a>
          </p>
        </main>
      </body>
    </html>
  );
}

async function send(
  res: ServerResponse,
  status: number,
  page: ReturnType<typeof SignInPage>,
): Promise<void> {
  const html = `<!doctype html>${await page.toString()}`;
  res.writeHead(status, { ...SECURITY_HEADERS, "Content-Type": "text/html; charset=utf-8" });
  res.end(html);
}

const MAX_FORM_BYTES = 8 * 1024;

async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

export async function createEmbeddedIdp(options: EmbeddedIdpOptions): Promise<EmbeddedIdp> {
  const issuer = `${options.base}${IDP_PATH}`;
  const origin = new URL(options.base).origin;
  const clientSecret = randomBytes(32).toString("base64url");
  const people = new Map(options.people.map((p) => [p.username, p]));

  // Signing keys live as long as the process: tokens of a previous run stop verifying.
  const rsa = await generateKeyPair("RS256", { extractable: true });
  const ec = await generateKeyPair("ES256", { extractable: true });
  const keys = [
    { ...(await exportJWK(rsa.privateKey)), alg: "RS256", use: "sig", kid: "idp-rs256" },
    { ...(await exportJWK(ec.privateKey)), alg: "ES256", use: "sig", kid: "idp-es256" },
  ];

  // Every authorization asks for the password, even with a provider session.
  const policy = interactionPolicy.base();
  policy
    .get("login")
    ?.checks.add(
      new interactionPolicy.Check(
        "console_sign_in",
        "the console asks for the password at every sign-in",
        (ctx: KoaContextWithOIDC) => ctx.oidc.result?.login === undefined,
      ),
    );

  const configuration: Configuration = {
    clients: [
      {
        client_id: CONSOLE_CLIENT_ID,
        client_secret: clientSecret,
        redirect_uris: [options.redirectUri],
        response_types: ["code"],
        grant_types: ["authorization_code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    jwks: { keys: keys as never },
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    pkce: { required: () => true },
    scopes: ["openid", "profile"],
    claims: { openid: ["sub"], profile: ["name", "preferred_username", "groups"] },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => options.resource,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== options.resource) throw new errors.InvalidTarget();
          return {
            scope: "console",
            audience: options.resource,
            accessTokenTTL: options.accessTokenTtlSeconds,
            accessTokenFormat: "jwt",
            jwt: { sign: { alg: "ES256" } },
          };
        },
      },
    },
    ttl: {
      AccessToken: options.accessTokenTtlSeconds,
      AuthorizationCode: 60,
      IdToken: options.accessTokenTtlSeconds,
      Interaction: 600,
      Session: 600,
      Grant: 600,
    },
    async findAccount(_ctx, sub) {
      const person = people.get(sub);
      if (person === undefined) return undefined;
      return {
        accountId: sub,
        claims: async () => ({
          sub,
          name: person.name,
          preferred_username: person.username,
          groups: [...person.groups],
        }),
      };
    },
    // Where the gateway reads them: the person's groups in the access token itself.
    async extraTokenClaims(_ctx, token) {
      const accountId = (token as { accountId?: string }).accountId;
      const person = accountId === undefined ? undefined : people.get(accountId);
      if (person === undefined) return undefined;
      return { groups: [...person.groups], preferred_username: person.username };
    },
    // The console is the provider's own first-party client: no consent screen.
    async loadExistingGrant(ctx) {
      const grantId =
        ctx.oidc.result?.consent?.grantId ??
        ctx.oidc.session?.grantIdFor(ctx.oidc.client?.clientId ?? "");
      if (grantId !== undefined) return ctx.oidc.provider.Grant.find(grantId);
      if (
        ctx.oidc.client?.clientId !== CONSOLE_CLIENT_ID ||
        ctx.oidc.session?.accountId === undefined
      )
        return undefined;
      const grant = new ctx.oidc.provider.Grant({
        clientId: CONSOLE_CLIENT_ID,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope("openid profile");
      grant.addResourceScope(options.resource, "console");
      await grant.save();
      return grant;
    },
    interactions: {
      policy,
      url: (_ctx, interaction) => `${IDP_PATH}/interaction/${interaction.uid}`,
    },
    async renderError(ctx, out) {
      ctx.type = "html";
      ctx.set(SECURITY_HEADERS);
      ctx.body = `<!doctype html>${await (
        <MessagePage
          title="Sign-in failed"
          message={`${String(out.error ?? "error")}: ${String(out.error_description ?? "")}`}
        />
      ).toString()}`;
    },
  };

  const provider = new Provider(issuer, configuration);
  const callback = provider.callback();

  async function interaction(req: IncomingMessage, res: ServerResponse, path: string) {
    const match = /^\/idp\/interaction\/([A-Za-z0-9_-]{1,64})(\/login)?$/.exec(path);
    if (match === null)
      return send(res, 404, <MessagePage title="Not found" message="No such page." />);
    const action = `${IDP_PATH}/interaction/${match[1]}/login`;
    let details: Awaited<ReturnType<typeof provider.interactionDetails>>;
    try {
      details = await provider.interactionDetails(req, res);
    } catch {
      return send(
        res,
        400,
        <MessagePage
          title="Sign-in expired"
          message="This sign-in is no longer valid. Start again from the console."
        />,
      );
    }
    if (details.uid !== match[1] || details.prompt.name !== "login")
      return send(
        res,
        400,
        <MessagePage title="Sign-in expired" message="Start again from the console." />,
      );
    if (match[2] === undefined) {
      if (req.method !== "GET")
        return send(res, 405, <MessagePage title="Not allowed" message="" />);
      return send(res, 200, <SignInPage action={action} />);
    }
    if (req.method !== "POST")
      return send(res, 405, <MessagePage title="Not allowed" message="" />);
    // A sign-in form posted from another origin (another site or port) is refused.
    const from = req.headers.origin;
    if (from !== undefined && from !== origin)
      return send(
        res,
        403,
        <MessagePage title="Refused" message="The form came from another site." />,
      );
    const form = await readForm(req);
    const username = form?.get("username") ?? "";
    const password = form?.get("password") ?? "";
    const person = people.get(username);
    // Compared even for an unknown user, so that timing does not tell who exists.
    const matches = sameSecret(password, person?.password ?? randomBytes(16).toString("hex"));
    if (person === undefined || !matches) {
      return send(
        res,
        200,
        <SignInPage action={action} username={username} error="Wrong username or password." />,
      );
    }
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: person.username, remember: false } },
      { mergeWithLastSubmission: false },
    );
  }

  function handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? "/";
    const path = url.split("?")[0] ?? "/";
    if (path !== IDP_PATH && !path.startsWith(`${IDP_PATH}/`)) return false;
    if (path === `${IDP_PATH}/assets/console.css`) {
      const css = options.assets.get("console.css");
      res.writeHead(200, {
        "Content-Type": css?.type ?? "text/css",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-cache",
      });
      res.end(css?.body ?? "");
      return true;
    }
    if (path.startsWith(`${IDP_PATH}/interaction/`)) {
      interaction(req, res, path).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain" });
        res.end(`sign-in failed: ${(err as Error)?.message ?? String(err)}`);
      });
      return true;
    }
    // oidc-provider derives its URLs from the mount path (originalUrl minus url).
    (req as IncomingMessage & { originalUrl?: string }).originalUrl = url;
    req.url = url.slice(IDP_PATH.length) || "/";
    void callback(req, res);
    return true;
  }

  return { issuer, clientId: CONSOLE_CLIENT_ID, clientSecret, resource: options.resource, handle };
}
