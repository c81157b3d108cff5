import { ArnFormat, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import type { SecretRef } from './manifest';

/**
 * The ARN an IAM policy must name to read the secret the manifest refers to. A full ARN is
 * used as written. A name becomes `arn:<partition>:secretsmanager:<region>:<account>:secret:NAME-??????`:
 * Secrets Manager appends a dash and six random characters to every secret's ARN, and
 * `??????` matches exactly those, so `patrol/slack` does not also grant `patrol/slack-old`.
 */
export function secretArn(scope: IConstruct, secret: SecretRef): string {
  if (!Token.isUnresolved(secret) && secret.startsWith('arn:')) {
    return secret;
  }
  return Stack.of(scope).formatArn({
    service: 'secretsmanager',
    resource: 'secret',
    resourceName: `${secret}-??????`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/**
 * Lets `grantee` read the values of exactly these secrets (no wildcard beyond the
 * random suffix). Nothing is granted for an empty list. Secrets encrypted with the default
 * `aws/secretsmanager` key need no KMS grant.
 */
export function grantReadSecrets(grantee: iam.IGrantable, scope: IConstruct, secrets: readonly SecretRef[]): void {
  const unique = [...new Set(secrets)].sort();
  if (unique.length === 0) {
    return;
  }
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['secretsmanager:GetSecretValue'],
      resources: unique.map((secret) => secretArn(scope, secret)),
    }),
  );
}
