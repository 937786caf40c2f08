/** The WorkMail API front: what the CLI's `serve` command and the tests use. */
export { createApiServer } from './server.js';
export type { ApiLimits, ApiServer, ApiServerDeps } from './server.js';
export type { Caller, MailboxHooks, Operation, OperationContext } from './context.js';
export { createServiceMetrics, storeJobCounter } from './metrics.js';
export type { JobCounter, ServiceMetrics, ServiceMetricsOptions } from './metrics.js';
export { createSigV4Verifier } from './sigv4.js';
export type { AccessKey, SignedRequest, SigV4Verifier, VerifiedCaller } from './sigv4.js';
export { validateInput } from './validate.js';
export { OPERATION_HANDLERS } from './operations/index.js';
