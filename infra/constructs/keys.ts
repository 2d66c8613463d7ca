import { RemovalPolicy } from "aws-cdk-lib";
import {
  AccountRootPrincipal,
  Grant,
  type IGrantable,
  PolicyDocument,
  PolicyStatement,
} from "aws-cdk-lib/aws-iam";
import { type CfnKey, Key, KeySpec, KeyUsage } from "aws-cdk-lib/aws-kms";
import { Construct } from "constructs";
import type { MacKeyAction, SigningKeyAction, SigningKeyName } from "../access.ts";

/**
 * Pinned logical ids: a changed id would create a new key (new JWKS, new
 * pseudonyms). The access-token key keeps the id of the gateway's first,
 * single signing key, so its `kid` (and every outstanding token) survives.
 */
export const KEY_LOGICAL_IDS = {
  accessToken: "TokenSigningKey",
  backendToken: "BackendTokenSigningKey",
  event: "EventSigningKey",
  pseudonym: "PseudonymKey",
  clientSecret: "ClientSecretKey",
} as const;

/** What each signing key signs (its description; the `typ` its JWTs carry). */
const SIGNING_PURPOSES: Readonly<Record<SigningKeyName, string>> = {
  accessToken: "access tokens (typ at+jwt)",
  backendToken: "the gateway's JWTs to partner backends (typ gateway+jwt)",
  event: "counterparty events (typ gateway-event+jwt)",
};

/**
 * What the account (its IAM administrators and CloudFormation) may do with the
 * keys: manage them, never use them. No kms:Sign / kms:GenerateMac and no
 * kms:CreateGrant, so no IAM policy in the account can sign gateway tokens or
 * derive pseudonyms; only the function roles named in the key policy can.
 */
export const KEY_ADMIN_ACTIONS = [
  "kms:DescribeKey",
  "kms:GetKeyPolicy",
  "kms:PutKeyPolicy",
  "kms:GetKeyRotationStatus",
  "kms:GetPublicKey",
  "kms:ListGrants",
  "kms:ListKeyPolicies",
  "kms:ListResourceTags",
  "kms:RevokeGrant",
  "kms:TagResource",
  "kms:UntagResource",
  "kms:UpdateKeyDescription",
  "kms:EnableKey",
  "kms:DisableKey",
  "kms:ScheduleKeyDeletion",
  "kms:CancelKeyDeletion",
  "kms:CreateAlias",
  "kms:DeleteAlias",
  "kms:UpdateAlias",
] as const;

export interface KeysProps {
  /**
   * Description prefix of the keys (shown in the KMS console).
   * @default "Data-sharing gateway"
   */
  readonly description?: string;
}

/**
 * The gateway's KMS keys, all retained:
 * - one ECC_NIST_P256 / SIGN_VERIFY key per signing purpose (ES256): access
 *   tokens, the gateway's JWTs to partner backends, counterparty events. Only
 *   the function that signs for a purpose is named with kms:Sign in that key's
 *   policy, so no other function can sign for it (the exchange and events
 *   functions cannot mint access tokens). All public keys are published as JWKS.
 * - `pseudonym`: HMAC_256 / GENERATE_VERIFY_MAC, derives per-agreement
 *   pseudonymisation keys.
 * - `clientSecret`: HMAC_256 / GENERATE_VERIFY_MAC, derives the pepper client
 *   secrets are hashed under (once per container), for the functions that
 *   check or issue client secrets only: not the pseudonym key, so they
 *   cannot derive pseudonyms, and the exchange cannot derive the pepper.
 * None supports automatic rotation (KMS only rotates symmetric keys);
 * see docs/deploy.md for the manual rotation procedure.
 */
export class Keys extends Construct {
  readonly signing: Readonly<Record<SigningKeyName, Key>>;
  readonly pseudonym: Key;
  readonly clientSecret: Key;

  constructor(scope: Construct, id: string, props: KeysProps = {}) {
    super(scope, id);
    const prefix = props.description ?? "Data-sharing gateway";
    const signingKey = (name: SigningKeyName) =>
      this.createKey(KEY_LOGICAL_IDS[name], {
        description: `${prefix}: ES256 key signing ${SIGNING_PURPOSES[name]}`,
        keySpec: KeySpec.ECC_NIST_P256,
        keyUsage: KeyUsage.SIGN_VERIFY,
      });
    this.signing = {
      accessToken: signingKey("accessToken"),
      backendToken: signingKey("backendToken"),
      event: signingKey("event"),
    };
    this.pseudonym = this.createKey(KEY_LOGICAL_IDS.pseudonym, {
      description: `${prefix}: HMAC key deriving pseudonym keys`,
      keySpec: KeySpec.HMAC_256,
      keyUsage: KeyUsage.GENERATE_VERIFY_MAC,
    });
    this.clientSecret = this.createKey(KEY_LOGICAL_IDS.clientSecret, {
      description: `${prefix}: HMAC key deriving the client-secret pepper`,
      keySpec: KeySpec.HMAC_256,
      keyUsage: KeyUsage.GENERATE_VERIFY_MAC,
    });
  }

  /** Let `grantee` use one signing key (key policy and identity policy). */
  grantSigning(
    name: SigningKeyName,
    grantee: IGrantable,
    actions: readonly SigningKeyAction[],
  ): Grant {
    return this.grant(this.signing[name], grantee, actions);
  }

  /** Every key (for alarms and the EventBridge rule on key changes). */
  get all(): Key[] {
    return [...Object.values(this.signing), this.pseudonym, this.clientSecret];
  }

  /** Let `grantee` use the pseudonym key (key policy and identity policy). */
  grantPseudonym(grantee: IGrantable, actions: readonly MacKeyAction[]): Grant {
    return this.grant(this.pseudonym, grantee, actions);
  }

  /** Let `grantee` use the client-secret key (key policy and identity policy). */
  grantClientSecret(grantee: IGrantable, actions: readonly MacKeyAction[]): Grant {
    return this.grant(this.clientSecret, grantee, actions);
  }

  private grant(key: Key, grantee: IGrantable, actions: readonly string[]): Grant {
    // The key policy does not delegate usage to IAM, so the principal must be
    // named in it; the identity statement documents the grant on the role too.
    return Grant.addToPrincipalAndResource({
      grantee,
      actions: [...actions],
      resourceArns: [key.keyArn],
      resource: key,
      resourceSelfArns: ["*"],
    });
  }

  private createKey(
    logicalId: string,
    spec: { description: string; keySpec: KeySpec; keyUsage: KeyUsage },
  ): Key {
    const admin = new PolicyStatement({
      sid: "AccountAdministersButCannotUse",
      principals: [new AccountRootPrincipal()],
      actions: [...KEY_ADMIN_ACTIONS],
      resources: ["*"],
    });
    const key = new Key(this, logicalId, {
      ...spec,
      enableKeyRotation: false,
      policy: new PolicyDocument({ statements: [admin] }),
      removalPolicy: RemovalPolicy.RETAIN,
    });
    (key.node.defaultChild as CfnKey).overrideLogicalId(logicalId);
    return key;
  }
}
