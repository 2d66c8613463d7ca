import { Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import {
  AccountRecovery,
  CfnUserPoolGroup,
  FeaturePlan,
  Mfa,
  OAuthScope,
  StandardThreatProtectionMode,
  UserPool,
  type UserPoolClient,
  UserPoolClientIdentityProvider,
  type UserPoolDomain,
} from "aws-cdk-lib/aws-cognito";
import { Construct } from "constructs";

/** The groups a person can belong to, and the gateway role each opens. */
export const PEOPLE_GROUPS = {
  operators: "admin",
  finance: "metrics:read",
} as const;

export interface PeopleSignInProps {
  /** Where Cognito sends people back: `<gateway>/console/callback`. */
  readonly callbackUrl: string;
  /** Prefix of the hosted sign-in domain (`<prefix>.auth.<region>.amazoncognito.com`), unique in the region. */
  readonly domainPrefix: string;
  /**
   * Lifetime of access and ID tokens: a console session ends with its access token.
   * @default Duration.hours(1)
   */
  readonly tokenValidity?: Duration;
  /**
   * What happens to the user pool when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Where people (operators, finance) sign in in AWS: a Cognito user pool with
 * an `operators` and a `finance` group, no self sign-up, TOTP MFA required,
 * the Plus feature plan's threat protection enforced,
 * a hosted sign-in domain, and one app client for the console: authorization
 * code flow only, no client secret (a public client: PKCE is what protects
 * the code), `openid profile` scopes, tokens valid for an hour. People are
 * added by an administrator (console or `aws cognito-idp admin-create-user`)
 * and put into a group.
 */
export class PeopleSignIn extends Construct {
  readonly userPool: UserPool;
  readonly client: UserPoolClient;
  readonly domain: UserPoolDomain;
  /** The OpenID issuer: `https://cognito-idp.<region>.amazonaws.com/<pool id>`. */
  readonly issuer: string;

  constructor(scope: Construct, id: string, props: PeopleSignInProps) {
    super(scope, id);
    const validity = props.tokenValidity ?? Duration.hours(1);
    this.userPool = new UserPool(this, "UserPool", {
      selfSignUpEnabled: false,
      signInAliases: { username: true, email: true },
      signInCaseSensitive: false,
      mfa: Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      passwordPolicy: {
        minLength: 14,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      // The people who run the gateway: compromised-credential and risky sign-in checks on.
      featurePlan: FeaturePlan.PLUS,
      standardThreatProtectionMode: StandardThreatProtectionMode.FULL_FUNCTION,
      deletionProtection: (props.removalPolicy ?? RemovalPolicy.RETAIN) === RemovalPolicy.RETAIN,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    for (const [group, role] of Object.entries(PEOPLE_GROUPS)) {
      new CfnUserPoolGroup(this, `${group}Group`, {
        userPoolId: this.userPool.userPoolId,
        groupName: group,
        description: `Opens the gateway's ${role} role (console and Bearer tokens)`,
      });
    }
    this.domain = this.userPool.addDomain("Domain", {
      cognitoDomain: { domainPrefix: props.domainPrefix },
    });
    this.client = this.userPool.addClient("ConsoleClient", {
      generateSecret: false,
      authFlows: {},
      preventUserExistenceErrors: true,
      supportedIdentityProviders: [UserPoolClientIdentityProvider.COGNITO],
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: [OAuthScope.OPENID, OAuthScope.PROFILE],
        callbackUrls: [props.callbackUrl],
      },
      accessTokenValidity: validity,
      idTokenValidity: validity,
      refreshTokenValidity: Duration.hours(Math.max(1, validity.toHours())),
      enableTokenRevocation: true,
    });
    this.issuer = `https://cognito-idp.${Stack.of(this).region}.amazonaws.com/${this.userPool.userPoolId}`;
  }

  /** The gateway's OIDC_* settings for this pool (Cognito puts the audience in `client_id`). */
  environment(): Record<string, string> {
    return {
      OIDC_ISSUER: this.issuer,
      OIDC_CLIENT_ID: this.client.userPoolClientId,
      OIDC_AUDIENCE: this.client.userPoolClientId,
      OIDC_AUDIENCE_CLAIM: "client_id",
      OIDC_ROLES_CLAIM: "cognito:groups",
      OIDC_ROLE_MAP: Object.entries(PEOPLE_GROUPS)
        .map(([group, role]) => `${group}=${role}`)
        .join(","),
      OIDC_USERNAME_CLAIM: "username",
      OIDC_SCOPES: "openid profile",
    };
  }
}
