import { CfnOutput } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { WebhookTrigger } from './manifest';

export interface WebhookEndpointProps {
  /** The rule this endpoint belongs to, named in the output. */
  readonly ruleId: string;
  /** The rule's `webhook` trigger. */
  readonly trigger: WebhookTrigger;
  /** The rule's function, which the URL invokes synchronously. */
  readonly function: lambda.Function;
}

const PROVIDER_NAMES: { readonly [provider in WebhookTrigger['provider']]: string } = {
  github: 'GitHub (Settings > Webhooks > Payload URL, content type application/json)',
  gitlab: 'GitLab (Settings > Webhooks > URL)',
  generic: 'the sender',
};

/**
 * A public HTTPS endpoint for a third party's webhooks: the function's URL, with no IAM auth
 * because GitHub and GitLab cannot sign AWS requests; the handler checks the provider's
 * signature (HMAC or token, with the trigger's secret) before the rule sees the request.
 * The URL is a stack output, since it must be pasted into the provider's settings.
 */
export class WebhookEndpoint extends Construct {
  public readonly url: lambda.FunctionUrl;
  public readonly output: CfnOutput;

  constructor(scope: Construct, id: string, props: WebhookEndpointProps) {
    super(scope, id);
    this.url = props.function.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
    this.output = new CfnOutput(this, 'Url', {
      value: this.url.url,
      description: `Patrol rule ${props.ruleId}: webhook URL to give ${PROVIDER_NAMES[props.trigger.provider]}`,
    });
  }
}
