import { OPERATIONS } from '../../src/api/generated/operations.js';
import type { ShapeName } from '../../src/api/generated/service.js';
import { SHAPES } from '../../src/api/generated/shapes.js';
import { KMS_KEY_ARN, ROLE_ARN } from './helpers.js';

/**
 * For every shape that a request can hold: a valid value, and one value for each way the
 * model lets it be wrong. `validation.test.ts` sends each bad value in each member that has
 * the shape, and checks that the table covers every constraint of the model.
 */

/** A constraint that no value can break, with the reason; the test checks the claim. */
export interface Waiver {
  readonly waived: string;
}

export interface ShapeSamples {
  readonly valid: unknown;
  readonly wrongType: unknown;
  readonly tooLong?: unknown;
  readonly tooShort?: unknown;
  readonly badPattern?: unknown | Waiver;
  readonly badEnum?: unknown;
  readonly tooHigh?: unknown;
  readonly tooLow?: unknown;
}

const EVERY_STRING: Waiver = { waived: 'the pattern accepts every string' };
const a = (n: number, c = 'a') => c.repeat(n);

export const SAMPLES: Partial<Record<ShapeName, ShapeSamples>> = {
  IdempotencyClientToken: {
    valid: 'token-1',
    wrongType: 17,
    tooLong: a(129),
    tooShort: '',
    badPattern: 'has space',
  },
  MailboxExportJobId: {
    valid: 'job-1',
    wrongType: ['job-1'],
    tooLong: a(64),
    tooShort: '',
    badPattern: 'job_1',
  },
  OrganizationId: {
    valid: `m-${a(32, '0')}`,
    wrongType: 34,
    tooLong: `m-${a(33)}`,
    tooShort: 'm-abc',
    badPattern: `m-${a(32, 'G')}`,
  },
  OrganizationName: {
    valid: 'acme',
    wrongType: true,
    tooLong: a(63),
    tooShort: '',
    badPattern: 'd-acme',
  },
  DirectoryId: {
    valid: 'd-0123456789',
    wrongType: 12,
    tooLong: 'd-01234567890',
    tooShort: 'd-0',
    badPattern: 'd-012345678Z',
  },
  Domains: {
    valid: [{ DomainName: 'example.com', HostedZoneId: 'Z123' }],
    wrongType: {},
    tooLong: Array.from({ length: 6 }, (_, i) => ({ DomainName: `d${i}.example.com` })),
  },
  Domain: { valid: { DomainName: 'example.com' }, wrongType: 'example.com' },
  DomainName: {
    valid: 'example.com',
    wrongType: 3,
    tooLong: a(256),
    tooShort: 'ab',
    badPattern: 'exa mple.com',
  },
  HostedZoneId: { valid: 'Z123', wrongType: 1, tooLong: a(33), tooShort: '', badPattern: 'a/b' },
  KmsKeyArn: {
    valid: KMS_KEY_ARN,
    wrongType: { arn: KMS_KEY_ARN },
    tooLong: `arn:aws:kms:us-east-1:123456789012:key/${a(2048)}`,
    tooShort: 'arn:aws:kms:x',
    badPattern: 'arn:aws:s3:::bucket/abcdefghijkl',
  },
  Boolean: { valid: true, wrongType: 'true' },
  UserName: { valid: 'bob', wrongType: 5, tooLong: a(65), tooShort: '', badPattern: 'bob smith' },
  UserAttribute: { valid: 'Bob', wrongType: ['Bob'], tooLong: a(257, 'x') },
  Password: {
    valid: 'Secret-1234',
    wrongType: 1234,
    tooLong: a(257, 'p'),
    badPattern: 'pass\u0100word',
  },
  UserRole: { valid: 'USER', wrongType: 1, badEnum: 'ADMIN' },
  IdentityProviderUserId: {
    valid: 'a1b2c3d4-1234-5678-9abc-def012345678',
    wrongType: 1,
    tooLong: a(48),
    tooShort: '',
    badPattern: 'not-a-uuid',
  },
  EntityIdentifier: {
    valid: 'bob',
    wrongType: false,
    tooLong: a(257),
    tooShort: '',
    badPattern: 'bob smith',
  },
  EmailAddress: {
    valid: 'bob@example.com',
    wrongType: 1,
    tooLong: `${a(64)}@${a(190, 'e')}.com`,
    tooShort: '',
    badPattern: 'bob-at-example',
  },
  Description: { valid: 'monthly', wrongType: 1, tooLong: a(1024), badPattern: EVERY_STRING },
  RoleArn: {
    valid: ROLE_ARN,
    wrongType: 1,
    tooLong: `arn:aws:iam::123456789012:role/${a(2048)}`,
    tooShort: 'arn:aws:iam::1:r',
    badPattern: 'arn:aws:sts::123456789012:role/abcdef',
  },
  S3BucketName: {
    valid: 'bucket',
    wrongType: 1,
    tooLong: a(64),
    tooShort: '',
    badPattern: 'bucket_name',
  },
  S3ObjectKey: {
    valid: 'exports/bob',
    wrongType: 1,
    tooLong: a(1024),
    tooShort: '',
    badPattern: 'exports bob',
  },
  NextToken: {
    valid: 'abc',
    wrongType: 1,
    tooLong: a(1025),
    tooShort: '',
    badPattern: EVERY_STRING,
  },
  MaxResults: { valid: 10, wrongType: '10', tooHigh: 101, tooLow: 0 },
  ListUsersFilters: { valid: { UsernamePrefix: 'b' }, wrongType: [] },
  String: { valid: 'b', wrongType: 1, tooLong: a(257) },
  EntityState: { valid: 'ENABLED', wrongType: 1, badEnum: 'ACTIVE' },
  IdentityProviderUserIdPrefix: {
    valid: 'a1b2',
    wrongType: 1,
    tooLong: a(48),
    tooShort: '',
    badPattern: 'xyz',
  },
};

/** Every shape that some operation's input can hold, found by walking the model. */
export function inputShapes(): Set<ShapeName> {
  const found = new Set<ShapeName>();
  const walk = (name: ShapeName) => {
    if (found.has(name)) return;
    found.add(name);
    const shape = SHAPES[name];
    if (shape.type === 'structure') Object.values(shape.members).forEach(walk);
    if (shape.type === 'list') walk(shape.member);
    if (shape.type === 'map') {
      walk(shape.key);
      walk(shape.value);
    }
  };
  for (const operation of Object.values(OPERATIONS)) {
    const input = SHAPES[operation.input];
    if (input.type === 'structure') Object.values(input.members).forEach(walk);
  }
  return found;
}

export function isWaiver(value: unknown): value is Waiver {
  return typeof value === 'object' && value !== null && 'waived' in value;
}
