/**
 * People's sign-in in AWS: a Cognito user pool with the operators and
 * finance groups, a hosted domain, one public app client (code flow, PKCE,
 * the console's callback), and the admin and metrics functions configured
 * for it; or, with `oidc` in the config, another provider and no pool.
 */
import { describe, expect, it } from "vitest";
import { FUNCTION_ACCESS } from "../../infra/access.ts";
import { functionId, logicalId, type Resource, resources, synth } from "./helpers.ts";

const props = (r: Resource | undefined) => r?.Properties ?? {};

const dev = synth({ stage: "dev" });
const envOf = (s: ReturnType<typeof synth>, name: "admin" | "metrics" | "token") =>
  (
    props(resources(s.template)[functionId(s, name)]).Environment as {
      Variables: Record<string, unknown>;
    }
  ).Variables;

describe("Cognito for people", () => {
  it("has a user pool without self sign-up, MFA required, a strong password policy and threat protection", () => {
    dev.template.hasResourceProperties("AWS::Cognito::UserPool", {
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      MfaConfiguration: "ON",
      EnabledMfas: ["SOFTWARE_TOKEN_MFA"],
      Policies: {
        PasswordPolicy: {
          MinimumLength: 14,
          RequireLowercase: true,
          RequireUppercase: true,
          RequireNumbers: true,
          RequireSymbols: true,
        },
      },
      UserPoolTier: "PLUS",
    });
  });

  it("has exactly the operators and finance groups", () => {
    const groups = Object.values(resources(dev.template, "AWS::Cognito::UserPoolGroup")).map(
      (g) => props(g).GroupName,
    );
    expect(groups.sort()).toEqual(["finance", "operators"]);
  });

  it("has a hosted sign-in domain named after the stage and account", () => {
    dev.template.hasResourceProperties("AWS::Cognito::UserPoolDomain", {
      Domain: { "Fn::Join": ["-", ["dsg-dev", { Ref: "AWS::AccountId" }]] },
    });
  });

  it("has one public app client: code flow only, openid profile, the console's callback", () => {
    const clients = Object.values(resources(dev.template, "AWS::Cognito::UserPoolClient"));
    expect(clients).toHaveLength(1);
    const client = props(clients[0]);
    expect(client).toMatchObject({
      GenerateSecret: false,
      AllowedOAuthFlows: ["code"],
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthScopes: ["openid", "profile"],
      SupportedIdentityProviders: ["COGNITO"],
      PreventUserExistenceErrors: "ENABLED",
      AccessTokenValidity: 60,
      IdTokenValidity: 60,
    });
    const callback = JSON.stringify(client.CallbackURLs);
    expect(callback).toContain(logicalId(dev.stack.api.api));
    expect(callback).toContain("/console/callback");
  });

  it("configures the admin and metrics functions for Cognito's tokens; no other function", () => {
    const pool = logicalId(dev.stack.peopleSignIn?.userPool as never);
    for (const name of ["admin", "metrics"] as const) {
      const env = envOf(dev, name);
      expect(env).toMatchObject({
        OIDC_CLIENT_ID: { Ref: logicalId(dev.stack.peopleSignIn?.client as never) },
        OIDC_AUDIENCE_CLAIM: "client_id",
        OIDC_ROLES_CLAIM: "cognito:groups",
        OIDC_ROLE_MAP: "operators=admin,finance=metrics:read",
        OIDC_USERNAME_CLAIM: "username",
      });
      expect(JSON.stringify(env.OIDC_ISSUER)).toContain(pool);
    }
    expect(envOf(dev, "token").OIDC_ISSUER).toBeUndefined();
  });

  it("keeps sessions within the admin function's existing credentials grant (no delete, no scan)", () => {
    const credentials = FUNCTION_ACCESS.admin.tables.credentials?.table ?? [];
    expect(credentials).toEqual(expect.arrayContaining(["GetItem", "PutItem", "UpdateItem"]));
    expect(credentials as readonly string[]).not.toContain("DeleteItem");
    expect(credentials as readonly string[]).not.toContain("Scan");
  });
});

describe("another provider (Entra ID, Okta)", () => {
  const entra = synth({
    stage: "dev",
    config: JSON.stringify({
      oidc: {
        OIDC_ISSUER: "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0",
        OIDC_CLIENT_ID: "11111111-1111-1111-1111-111111111111",
        OIDC_AUDIENCE: "api://data-sharing-gateway",
        OIDC_ROLES_CLAIM: "roles",
        OIDC_ROLE_MAP: "Gateway.Operator=admin,Gateway.Finance=metrics:read",
        OIDC_USERNAME_CLAIM: "preferred_username",
        OIDC_SCOPES: "openid profile api://data-sharing-gateway/console",
      },
    }),
  });

  it("creates no user pool and hands the provider's settings to admin and metrics", () => {
    expect(Object.keys(resources(entra.template, "AWS::Cognito::UserPool"))).toHaveLength(0);
    expect(envOf(entra, "admin")).toMatchObject({
      OIDC_ISSUER: "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0",
      OIDC_ROLES_CLAIM: "roles",
      OIDC_AUDIENCE: "api://data-sharing-gateway",
    });
  });

  it("refuses a client secret or an http issuer in the config", () => {
    expect(() =>
      synth({
        config: JSON.stringify({
          oidc: {
            OIDC_ISSUER: "https://idp.example",
            OIDC_CLIENT_ID: "c",
            OIDC_CLIENT_SECRET: "s",
          },
        }),
      }),
    ).toThrow(/OIDC_CLIENT_SECRET/);
    expect(() =>
      synth({
        config: JSON.stringify({
          oidc: { OIDC_ISSUER: "http://idp.example", OIDC_CLIENT_ID: "c" },
        }),
      }),
    ).toThrow(/OIDC_ISSUER/);
  });
});
