import { STSClient, AssumeRoleCommand } from '@aws-sdk/client-sts';

import { ExportError } from '../core/errors.js';
import { clientConfig, type AwsCredentials, type CredentialProvider } from './endpoint.js';
import { awsErrorCode, isAccessDenied, isCredentialError, isUnreachable } from './errors.js';

/**
 * A job acts with its own role: STS AssumeRole gives temporary credentials, and every S3 and
 * KMS client of the job is built with them (`withCredentials`), so that AWS enforces the
 * role's policies on everything the export does.
 *
 * What we send: RoleArn, RoleSessionName (`sessionNameFor(jobId)`), DurationSeconds, and
 * ExternalId when one is configured. Nothing else. AWS's own WorkMail export role trusts the
 * service principal `export.workmail.amazonaws.com` under conditions on `aws:SourceAccount`
 * and `aws:SourceArn`; AWS sets those keys itself when one of its services assumes a role on a
 * customer's behalf, and no request parameter can set them. A self-hosted caller signs with
 * ordinary IAM credentials, so it can neither be that principal nor present those keys: a trust
 * policy for this service names the service's own IAM principal and requires `sts:ExternalId`
 * (the organization's id, or a secret agreed per organization). `sourceAccount` and
 * `sourceArn` are accepted so that a refusal can say which condition to rewrite.
 */

export interface AssumeJobRoleRequest {
  readonly roleArn: string;
  readonly jobId: string;
  readonly region: string;
  /** STS endpoint URL; absent: AWS STS of the region. */
  readonly endpoint?: string;
  /** The service's own credentials, that the role trusts; absent: the SDK's default chain. */
  readonly credentials?: AwsCredentials | CredentialProvider;
  readonly externalId?: string;
  readonly sourceAccount?: string;
  readonly sourceArn?: string;
  /** Lifetime of the credentials, 900-43200 s as the role allows (default 3600). */
  readonly durationSeconds?: number;
  readonly signal?: AbortSignal;
}

export interface JobRoleCredentials extends AwsCredentials {
  readonly sessionToken: string;
  readonly expiration: Date;
  readonly assumedRoleArn: string;
  readonly sessionName: string;
}

/**
 * RoleSessionName for a job: `mailbox-export-<job id>`, with characters outside STS's set
 * (`[\w+=,.@-]`) replaced by `-` and cut to STS's 64 characters. It shows in CloudTrail as the
 * session that wrote the export.
 */
export function sessionNameFor(jobId: string): string {
  return `mailbox-export-${jobId}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
}

export async function assumeJobRole(request: AssumeJobRoleRequest): Promise<JobRoleCredentials> {
  const sessionName = sessionNameFor(request.jobId);
  const sts = new STSClient(
    clientConfig({
      region: request.region,
      ...(request.endpoint === undefined ? {} : { endpoint: request.endpoint }),
      ...(request.credentials === undefined ? {} : { credentials: request.credentials }),
    }),
  );
  try {
    const answer = await sts.send(
      new AssumeRoleCommand({
        RoleArn: request.roleArn,
        RoleSessionName: sessionName,
        DurationSeconds: request.durationSeconds ?? 3600,
        ...(request.externalId === undefined ? {} : { ExternalId: request.externalId }),
      }),
      request.signal ? { abortSignal: request.signal } : {},
    );
    const credentials = answer.Credentials;
    if (!credentials?.AccessKeyId || !credentials.SecretAccessKey || !credentials.SessionToken) {
      throw new ExportError('AccessDenied', `STS gave no credentials for ${request.roleArn}.`);
    }

    return {
      accessKeyId: credentials.AccessKeyId,
      secretAccessKey: credentials.SecretAccessKey,
      sessionToken: credentials.SessionToken,
      expiration: credentials.Expiration ?? new Date(Date.now() + 900_000),
      assumedRoleArn: answer.AssumedRoleUser?.Arn ?? request.roleArn,
      sessionName,
    };
  } catch (error) {
    throw roleError(error, request);
  } finally {
    sts.destroy();
  }
}

/**
 * Credentials of the job's role that renew themselves: the SDK calls the provider before each
 * request, and a new AssumeRole is made five minutes before the current credentials expire,
 * so that an upload longer than the session still completes.
 */
export function jobRoleProvider(request: AssumeJobRoleRequest): CredentialProvider {
  let current: Promise<JobRoleCredentials> | undefined;
  return async () => {
    const held = current ? await current.catch(() => undefined) : undefined;
    if (held && held.expiration.getTime() - Date.now() > 5 * 60_000) return held;
    current = assumeJobRole(request);
    return current;
  };
}

function roleError(error: unknown, request: AssumeJobRoleRequest): unknown {
  if (error instanceof ExportError || (error as Error)?.name === 'AbortError') return error;
  const where = request.endpoint ?? `AWS STS in ${request.region}`;
  const code = awsErrorCode(error);
  if (isUnreachable(error)) {
    return new ExportError(
      'Internal',
      `Could not reach ${where} to assume ${request.roleArn} (${code}): check the STS ` +
        'endpoint URL, that the server runs, and the network.',
      { cause: error },
    );
  }

  if (isAccessDenied(error) || isCredentialError(error)) {
    const conditions =
      request.sourceAccount || request.sourceArn
        ? ' Conditions on aws:SourceAccount or aws:SourceArn cannot be met by a self-hosted ' +
          'service: replace them with an sts:ExternalId condition.'
        : '';
    return new ExportError(
      'AccessDenied',
      `${where} refused to let this service assume ${request.roleArn} (${code}): check the ` +
        "role's trust policy names this service's principal" +
        (request.externalId ? ' and requires the configured external id.' : '.') +
        conditions,
      { cause: error },
    );
  }

  return new ExportError(
    'AccessDenied',
    `Assuming ${request.roleArn} at ${where} failed (${code}): check the role ARN.`,
    { cause: error },
  );
}
