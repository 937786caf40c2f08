import { ApiError } from '../../core/errors.js';
import type { ExportJob, Organization, User } from '../../core/model.js';
import type { OperationContext } from '../context.js';

/**
 * Lookups and paging shared by the operations. An organization of another account is
 * answered as not found, as AWS does: an access key sees only its own account's
 * organizations.
 */

export async function findOrganization(
  ctx: OperationContext,
  organizationId: string,
): Promise<Organization> {
  const organization = await ctx.store.getOrganization(organizationId);
  if (organization === undefined || organization.accountId !== ctx.caller.accountId) {
    throw new ApiError(
      'OrganizationNotFoundException',
      `Organization ${organizationId} does not exist.`,
    );
  }
  return organization;
}

/** The organization, which must be Active for anything but describing or deleting it. */
export async function activeOrganization(
  ctx: OperationContext,
  organizationId: string,
): Promise<Organization> {
  const organization = await findOrganization(ctx, organizationId);
  if (organization.state !== 'Active') {
    throw new ApiError(
      'OrganizationStateException',
      `Organization ${organizationId} is ${organization.state}, not Active.`,
    );
  }
  return organization;
}

/** A user found by id, name or e-mail address. */
export async function findUser(
  ctx: OperationContext,
  organization: Organization,
  identifier: string,
): Promise<User> {
  const user = await ctx.store.findUser(organization.organizationId, identifier);
  if (user === undefined) {
    throw new ApiError(
      'EntityNotFoundException',
      `No user of organization ${organization.organizationId} is ${identifier}.`,
    );
  }
  return user;
}

/**
 * An export job of the organization. The model lists `EntityNotFoundException`, not
 * `ResourceNotFoundException`, for Describe and Cancel: a job is an entity here.
 */
export async function findJob(
  ctx: OperationContext,
  organization: Organization,
  jobId: string,
): Promise<ExportJob> {
  const job = await ctx.store.getJob(organization.organizationId, jobId);
  if (job === undefined) {
    throw new ApiError(
      'EntityNotFoundException',
      `No export job ${jobId} in organization ${organization.organizationId}.`,
    );
  }
  return job;
}

export function organizationArn(organization: Organization): string {
  return (
    `arn:aws:workmail:${organization.region}:${organization.accountId}:` +
    `organization/${organization.organizationId}`
  );
}

/** Page size when a list request leaves out `MaxResults`: the model's largest. */
export const DEFAULT_PAGE_SIZE = 100;

interface Position {
  readonly createdMs: number;
  readonly id: string;
}

/**
 * One page of a directory listing, in creation order. `NextToken` is the position after the
 * page's last item (base64 of `[createdMs, id]`), so that items created between two calls
 * neither repeat nor go missing.
 */
export function pageOf<T>(
  items: readonly T[],
  key: (item: T) => Position,
  request: { readonly MaxResults?: number; readonly NextToken?: string },
): { readonly page: T[]; readonly nextToken?: string } {
  const sorted = [...items].sort((a, b) => compare(key(a), key(b)));
  const after = request.NextToken === undefined ? undefined : decodeToken(request.NextToken);
  const rest =
    after === undefined ? sorted : sorted.filter((item) => compare(key(item), after) > 0);
  const size = request.MaxResults ?? DEFAULT_PAGE_SIZE;
  const page = rest.slice(0, size);
  const last = page.at(-1);
  if (rest.length <= size || last === undefined) return { page };
  const position = key(last);
  return {
    page,
    nextToken: Buffer.from(JSON.stringify([position.createdMs, position.id])).toString('base64'),
  };
}

function compare(a: Position, b: Position): number {
  if (a.createdMs !== b.createdMs) return a.createdMs - b.createdMs;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function decodeToken(token: string): Position {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  if (
    !Array.isArray(decoded) ||
    decoded.length !== 2 ||
    !Number.isSafeInteger(decoded[0]) ||
    typeof decoded[1] !== 'string'
  ) {
    throw new ApiError(
      'InvalidParameterException',
      'NextToken is not a token that this service returned; start the listing again without it.',
    );
  }
  return { createdMs: decoded[0] as number, id: decoded[1] };
}
