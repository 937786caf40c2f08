/**
 * Every setting, its type, its default and what it is for. The README's configuration table is
 * written from this file.
 */

export type ConfigSchema =
  | { type: 'string'; doc: string; default?: string; optional?: true; oneOf?: readonly string[] }
  | { type: 'integer'; doc: string; min: number; default?: number; optional?: true }
  | { type: 'boolean'; doc: string; default?: boolean; optional?: true }
  | { type: 'list'; doc: string; items: ConfigSchema; default?: unknown[]; optional?: true }
  | {
      type: 'object';
      doc: string;
      members: Record<string, ConfigSchema>;
      default?: Record<string, unknown>;
      optional?: true;
    };

const remoteEndpoint = (doc: string): Record<string, ConfigSchema> => ({
  endpoint: {
    type: 'string',
    optional: true,
    doc: `${doc} endpoint URL; the AWS default if unset`,
  },
  region: { type: 'string', optional: true, doc: 'region of the endpoint; `region` if unset' },
  forcePathStyle: { type: 'boolean', optional: true, doc: 'path-style bucket addressing' },
  accessKeyId: {
    type: 'string',
    optional: true,
    doc: 'access key; the AWS default credential chain if unset',
  },
  secretAccessKey: { type: 'string', optional: true, doc: 'secret of accessKeyId' },
});

export const SCHEMA: ConfigSchema = {
  type: 'object',
  doc: 'the configuration file',
  members: {
    dataDir: {
      type: 'string',
      default: 'mailbox-export-data',
      doc: 'folder of the job database, the embedded mail root, buckets and keys',
    },
    region: {
      type: 'string',
      default: 'us-east-1',
      doc: 'region of the service; organizations, keys and buckets must be in it',
    },
    accountId: {
      type: 'string',
      default: '111122223333',
      doc: 'account id used in the ARNs of organizations and embedded keys',
    },
    server: {
      type: 'object',
      doc: 'the WorkMail API front',
      default: {},
      members: {
        host: { type: 'string', default: '127.0.0.1', doc: 'address to listen on' },
        port: { type: 'integer', min: 0, default: 8457, doc: 'port to listen on' },
        bodyLimitBytes: {
          type: 'integer',
          min: 1024,
          default: 1024 * 1024,
          doc: 'largest request body accepted; the largest valid request is a few KiB',
        },
        headersTimeoutMs: {
          type: 'integer',
          min: 1000,
          default: 10_000,
          doc: 'time a client has to send its headers',
        },
        requestTimeoutMs: {
          type: 'integer',
          min: 1000,
          default: 30_000,
          doc: 'time a client has to send its whole request',
        },
      },
    },
    accessKeys: {
      type: 'list',
      optional: true,
      doc: 'access keys that may sign API requests; made on first run if unset',
      items: {
        type: 'object',
        doc: 'one access key',
        members: {
          accessKeyId: { type: 'string', doc: 'the access key id' },
          secretAccessKey: { type: 'string', doc: 'its secret' },
          accountId: { type: 'string', optional: true, doc: 'the account it acts for' },
        },
      },
    },
    jobs: {
      type: 'object',
      doc: 'export jobs',
      default: {},
      members: {
        workers: { type: 'integer', min: 1, default: 2, doc: 'exports run at once on this node' },
        maxRunningPerOrganization: {
          type: 'integer',
          min: 1,
          default: 10,
          doc: 'running jobs allowed per organization, as in WorkMail',
        },
        mailboxIntervalSeconds: {
          type: 'integer',
          min: 0,
          default: 86_400,
          doc: 'seconds between two exports of one mailbox, as in WorkMail',
        },
        leaseSeconds: {
          type: 'integer',
          min: 5,
          default: 30,
          doc: 'how long a job survives its node going silent before another takes it',
        },
        badItemLimit: {
          type: 'integer',
          min: 0,
          default: 0,
          doc: 'unreadable items tolerated per export; each is named in the manifest',
        },
        compression: {
          type: 'string',
          default: 'default',
          oneOf: ['store', 'fast', 'default'],
          doc: 'zip compression: store (none), fast (deflate 1), default (deflate 6)',
        },
      },
    },
    mailServers: {
      type: 'list',
      default: [],
      doc: 'IMAP (and CalDAV) servers that organizations may keep their mailboxes on',
      items: {
        type: 'object',
        doc: 'one mail server',
        members: {
          name: { type: 'string', doc: 'the name organizations are bound to it by' },
          imap: {
            type: 'object',
            doc: 'the IMAP server',
            members: {
              host: { type: 'string', doc: 'host name or address' },
              port: { type: 'integer', min: 1, default: 993, doc: 'port' },
              tls: {
                type: 'string',
                default: 'implicit',
                oneOf: ['implicit', 'starttls', 'none'],
                doc: 'TLS from the first byte, STARTTLS required, or clear text',
              },
              caFile: { type: 'string', optional: true, doc: 'PEM file of CAs to trust too' },
              checkCertificates: {
                type: 'boolean',
                default: true,
                doc: 'verify the certificate; false is logged as a warning at every start',
              },
              login: {
                type: 'string',
                default: 'master',
                oneOf: ['master', 'authzid'],
                doc: 'admin login: Dovecot master user (user*admin) or SASL PLAIN authzid',
              },
              admin: { type: 'string', doc: 'admin user that may open every mailbox' },
              password: { type: 'string', doc: "the admin's password" },
              maxConnections: {
                type: 'integer',
                min: 1,
                default: 4,
                doc: 'connections to this server at once, over all jobs',
              },
            },
          },
          caldav: {
            type: 'object',
            optional: true,
            doc: 'the CalDAV server of the same users',
            members: {
              url: { type: 'string', doc: 'base URL' },
              admin: { type: 'string', doc: "admin that may read every user's calendars" },
              password: { type: 'string', doc: "the admin's password" },
              principal: {
                type: 'string',
                optional: true,
                doc: "principal path, {user} for the user's name; default /{user}/",
              },
            },
          },
        },
      },
    },
    defaultMailServer: {
      type: 'string',
      optional: true,
      doc: 'mail server (by name) of new organizations; the embedded store if unset',
    },
    s3: {
      type: 'object',
      optional: true,
      doc: 'write exports to an S3 API instead of the embedded buckets',
      members: {
        ...remoteEndpoint('S3'),
        clientSideEncryption: {
          type: 'boolean',
          optional: true,
          doc: 'seal objects with the AWS Encryption SDK, for servers that ignore SSE-KMS',
        },
      },
    },
    kms: {
      type: 'object',
      optional: true,
      doc: 'use a KMS API instead of the embedded keys',
      members: remoteEndpoint('KMS'),
    },
    sts: {
      type: 'object',
      optional: true,
      doc: "assume each job's role with STS before touching S3 and KMS",
      members: {
        ...remoteEndpoint('STS'),
        externalId: { type: 'string', optional: true, doc: 'ExternalId sent with AssumeRole' },
      },
    },
  },
};
