/**
 * How one AWS-compatible service is reached: AWS itself (no endpoint URL) or a server of the
 * operator's (MinIO, Ceph, LocalStack, moto). Every S3, KMS and STS client of this project is
 * built from one of these, so that a job's clients all use the same endpoint and credentials.
 */

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  /** When temporary credentials stop working; the SDK refreshes a provider's before then. */
  readonly expiration?: Date;
}

/** Called by the SDK whenever it needs credentials; may return the same ones until they expire. */
export type CredentialProvider = () => Promise<AwsCredentials>;

export interface AwsEndpoint {
  /** The service's base URL, e.g. `http://127.0.0.1:9000`. Absent: AWS's endpoint for the region. */
  readonly endpoint?: string;
  readonly region: string;
  /** Bucket in the path (`host/bucket/key`) rather than the host name; most S3 clones need it. */
  readonly forcePathStyle?: boolean;
  /** Absent: the SDK's default chain (environment, profile, instance role). */
  readonly credentials?: AwsCredentials | CredentialProvider;
  /** Attempts per request, the first included (SDK default 3). */
  readonly maxAttempts?: number;
  /** Milliseconds to wait for a TCP connection before the attempt fails (default 10,000). */
  readonly connectionTimeoutMs?: number;
}

/** The client configuration shared by every SDK client made from an endpoint. */
export function clientConfig(endpoint: AwsEndpoint) {
  return {
    region: endpoint.region,
    ...(endpoint.endpoint === undefined ? {} : { endpoint: endpoint.endpoint }),
    ...(endpoint.credentials === undefined ? {} : { credentials: ownCopy(endpoint.credentials) }),
    ...(endpoint.maxAttempts === undefined ? {} : { maxAttempts: endpoint.maxAttempts }),
    requestHandler: { connectionTimeout: endpoint.connectionTimeoutMs ?? 10_000 },
  };
}

/**
 * Static credentials as a fresh object. The SDK records on the credentials object where they
 * came from (`$source`), which throws on a frozen object such as a validated configuration's.
 */
function ownCopy(
  credentials: AwsCredentials | CredentialProvider,
): AwsCredentials | CredentialProvider {
  return typeof credentials === 'function' ? credentials : { ...credentials };
}

/** The endpoint as a reader knows it, for error messages. */
export function endpointName(endpoint: AwsEndpoint, service: 's3' | 'kms' | 'sts'): string {
  return endpoint.endpoint ?? `AWS ${service.toUpperCase()} in ${endpoint.region}`;
}

/** The same endpoint with other credentials: how a job's clients get its role's credentials. */
export function withCredentials(
  endpoint: AwsEndpoint,
  credentials: AwsCredentials | CredentialProvider,
): AwsEndpoint {
  return { ...endpoint, credentials };
}
