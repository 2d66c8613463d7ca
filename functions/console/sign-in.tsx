/**
 * Signing people in and out. `/console/login` starts an authorization code
 * flow with PKCE (state, nonce and verifier kept server-side, bound to the
 * browser by a short-lived cookie); `/console/callback` redeems the code,
 * verifies the access token as the admin and metrics routes will, and opens
 * a session that ends when that token expires; `/console/logout` ends it.
 */
import type { Context, Hono } from "hono";
import type { Gateway } from "../gateway.ts";
import { IdentityProviderUnavailableError } from "../people/provider.ts";
import { type RelyingParty, SignInError } from "../people/relying-party.ts";
import { LOGIN_TTL_SECONDS } from "../store/sessions.ts";
import type { ConsoleCookies, ConsoleEnv } from "./http.ts";
import { safeReturnPath } from "./http.ts";
import { Page } from "./pages/layout.tsx";

type C = Context<ConsoleEnv>;

async function page(
  c: C,
  status: 200 | 400 | 403 | 503,
  title: string,
  body: string,
  retry = true,
) {
  return c.html(
    `<!doctype html>${await (
      <Page title={title}>
        <p>{body}</p>
        {retry ? (
          <p>
            <a class="button" href="/console/login">
              Sign in
            </a>
          </p>
        ) : null}
      </Page>
    ).toString()}`,
    status,
  );
}

export function registerSignIn(
  app: Hono<ConsoleEnv>,
  gw: Gateway,
  rp: () => RelyingParty,
  cookies: ConsoleCookies,
): void {
  app.get("/login", async (c) => {
    const returnTo = safeReturnPath(c.req.query("return"));
    let start: Awaited<ReturnType<RelyingParty["start"]>>;
    try {
      start = await rp().start();
    } catch (err) {
      if (err instanceof IdentityProviderUnavailableError)
        return page(
          c,
          503,
          "Sign-in unavailable",
          "The sign-in provider does not answer. Try again in a moment.",
        );
      throw err;
    }
    const loginId = await gw.sessions.startLogin(
      { state: start.state, nonce: start.nonce, codeVerifier: start.codeVerifier, returnTo },
      gw.clock(),
    );
    cookies.set(c, cookies.login, loginId, LOGIN_TTL_SECONDS);
    return c.redirect(start.url.href, 302);
  });

  app.get("/callback", async (c) => {
    const loginId = cookies.read(c, cookies.login);
    cookies.clear(c, cookies.login);
    const login =
      loginId === undefined ? undefined : await gw.sessions.takeLogin(loginId, gw.clock());
    if (login === undefined)
      return page(
        c,
        400,
        "Sign-in expired",
        "This sign-in is unknown, used or expired. Start again.",
      );
    const q = new URL(c.req.url).search;
    let accessToken: string;
    let idClaims: Readonly<Record<string, unknown>>;
    try {
      ({ accessToken, idClaims } = await rp().finish(q, login));
    } catch (err) {
      if (err instanceof SignInError) return page(c, 400, "Sign-in failed", err.message);
      if (err instanceof IdentityProviderUnavailableError)
        return page(
          c,
          503,
          "Sign-in unavailable",
          "The sign-in provider does not answer. Try again in a moment.",
        );
      throw err;
    }
    const people = gw.people;
    if (people === undefined)
      return page(c, 503, "Sign-in unavailable", "No provider is configured.", false);
    let claims: Awaited<ReturnType<typeof people.verify>>;
    try {
      claims = await people.verify(accessToken, gw.clock());
    } catch (err) {
      if (err instanceof IdentityProviderUnavailableError) throw err;
      return page(
        c,
        400,
        "Sign-in failed",
        `The provider's access token was refused: ${(err as Error).message}.`,
      );
    }
    if (claims.person.roles.length === 0) {
      return page(
        c,
        403,
        "No console role",
        `${claims.person.username} signed in, but belongs to no group that opens the console (operators or finance). Ask your identity administrator.`,
        false,
      );
    }
    const now = gw.clock();
    const sessionId = await gw.sessions.create(
      {
        actor: claims.person.actor,
        username: claims.person.username,
        name: typeof idClaims.name === "string" ? idClaims.name : undefined,
        roles: claims.person.roles,
        createdAt: now.toISOString(),
        expiresAt: new Date(claims.exp * 1000).toISOString(),
      },
      accessToken,
    );
    cookies.set(c, cookies.session, sessionId, claims.exp - Math.floor(now.getTime() / 1000));
    gw.log.info("console_sign_in", { actor: claims.person.actor, roles: claims.person.roles });
    return c.redirect(login.returnTo, 303);
  });

  app.get("/signed-out", (c) => page(c, 200, "Signed out", "You are signed out of the console."));
}
