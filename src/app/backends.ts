import { readFileSync } from 'node:fs';

import type { AwsEndpoint, CredentialProvider } from '../aws/endpoint.js';
import { jobRoleProvider } from '../aws/role.js';
import type { Config, MailServer, RemoteEndpoint } from '../config/config.js';
import type { Backends, JobBackends } from '../core/backends.js';
import { ExportError } from '../core/errors.js';
import type { KeyService } from '../core/key-service.js';
import type { Logger } from '../core/log.js';
import type { ExportJob, MailboxBinding, Organization, User } from '../core/model.js';
import type { ObjectStore } from '../core/object-store.js';
import type { MailboxSource } from '../core/source.js';
import { KmsKeyService } from '../keys/kms-keys.js';
import type { LocalKeyService } from '../keys/local-keys.js';
import type { FsObjectStore } from '../objectstore/fs-store.js';
import { S3ObjectStore } from '../objectstore/s3-store.js';
import { openCaldavCalendars } from '../sources/caldav.js';
import { combineSources } from '../sources/combined.js';
import { openImapMailbox, type ImapSourceOptions } from '../sources/imap.js';
import { openMailboxDir } from '../store/embedded-source.js';
import { embeddedBuckets } from './embedded-buckets.js';
import type { MailRoot } from './mail-root.js';

/**
 * Gives each job its source, object store and key service, as the configuration says: the
 * embedded store or a configured mail server for the source, the embedded buckets or an S3 API
 * for objects, the embedded keys or a KMS API for keys. With STS configured, every S3 and KMS
 * call of a job is made with its role's temporary credentials.
 */
export class AppBackends implements Backends {
  readonly #config: Config;
  readonly #mailRoot: MailRoot;
  readonly #localKeys: LocalKeyService;
  readonly #localObjects: ObjectStore;
  readonly #logger: Logger;

  constructor(options: {
    config: Config;
    mailRoot: MailRoot;
    localKeys: LocalKeyService;
    localObjects: FsObjectStore;
    logger: Logger;
  }) {
    this.#config = options.config;
    this.#mailRoot = options.mailRoot;
    this.#localKeys = options.localKeys;
    this.#localObjects = embeddedBuckets(options.localObjects);
    this.#logger = options.logger;
  }

  async forJob(
    organization: Organization,
    user: User,
    job: ExportJob,
    signal: AbortSignal,
  ): Promise<JobBackends> {
    const credentials = this.#roleCredentials(organization, job);
    const keyService = this.#keyService(organization, credentials);
    const objectStore = this.#objectStore(organization, credentials, keyService);
    const source = await this.openSource(organization, user, signal);
    return { source, objectStore, keyService, close: () => source.close() };
  }

  /** The user's mailbox wherever the organization keeps it; the CLI's import uses it too. */
  async openSource(
    organization: Organization,
    user: User,
    signal: AbortSignal,
  ): Promise<MailboxSource> {
    if (organization.binding.kind === 'embedded') {
      return openMailboxDir(this.#mailRoot.mailboxDir(organization, user));
    }

    const server = this.mailServer(organization.binding);
    const mail = await openImapMailbox(imapOptions(server, user.name), signal);
    if (!server.caldav) return mail;

    try {
      const calendars = await openCaldavCalendars({
        serverUrl: server.caldav.url,
        user: user.name,
        admin: { username: server.caldav.admin, password: server.caldav.password },
        ...(server.caldav.principal ? { principal: server.caldav.principal } : {}),
      });
      return combineSources(mail, calendars);
    } catch (error) {
      await mail.close();
      throw error;
    }
  }

  mailServer(binding: Extract<MailboxBinding, { kind: 'remote' }>): MailServer {
    const server = this.#config.mailServers.find((candidate) => candidate.name === binding.imap);
    if (!server) {
      throw new ExportError(
        'SourceUnavailable',
        `The organization's mail server "${binding.imap}" is not in the configuration's ` +
          'mailServers: add it back, or bind the organization to another server.',
      );
    }
    if (!server.imap.checkCertificates) {
      this.#logger.warn({ server: server.name }, 'certificate checks are off for a mail server');
    }
    return server;
  }

  #roleCredentials(organization: Organization, job: ExportJob): CredentialProvider | undefined {
    const sts = this.#config.sts;
    if (!sts) return undefined;
    return jobRoleProvider({
      roleArn: job.roleArn,
      jobId: job.jobId,
      region: sts.region ?? organization.region,
      ...(sts.endpoint ? { endpoint: sts.endpoint } : {}),
      ...serviceCredentials(sts),
      ...(sts.externalId ? { externalId: sts.externalId } : {}),
    });
  }

  #keyService(organization: Organization, role: CredentialProvider | undefined): KeyService {
    const kms = this.#config.kms;
    if (!kms) return this.#localKeys;
    return new KmsKeyService(endpointOf(kms, organization.region, role));
  }

  #objectStore(
    organization: Organization,
    role: CredentialProvider | undefined,
    keyService: KeyService,
  ): ObjectStore {
    const s3 = this.#config.s3;
    if (!s3) return this.#localObjects;
    return new S3ObjectStore({
      ...endpointOf(s3, organization.region, role),
      ...(s3.clientSideEncryption ? { clientSideEncryption: true, keyService } : {}),
    });
  }
}

function serviceCredentials(endpoint: RemoteEndpoint): Pick<AwsEndpoint, 'credentials'> {
  if (!endpoint.accessKeyId || !endpoint.secretAccessKey) return {};
  return {
    credentials: {
      accessKeyId: endpoint.accessKeyId,
      secretAccessKey: endpoint.secretAccessKey,
    },
  };
}

/** An endpoint of the configuration, acting with the job's role when there is one. */
function endpointOf(
  endpoint: RemoteEndpoint,
  region: string,
  role: CredentialProvider | undefined,
): AwsEndpoint {
  return {
    region: endpoint.region ?? region,
    ...(endpoint.endpoint ? { endpoint: endpoint.endpoint } : {}),
    ...(endpoint.forcePathStyle === undefined ? {} : { forcePathStyle: endpoint.forcePathStyle }),
    ...(role ? { credentials: role } : serviceCredentials(endpoint)),
  };
}

export function imapOptions(server: MailServer, user: string): ImapSourceOptions {
  const imap = server.imap;
  return {
    host: imap.host,
    port: imap.port,
    secure: imap.tls === 'implicit',
    starttls: imap.tls === 'starttls',
    ...(imap.caFile ? { ca: readFileSync(imap.caFile) } : {}),
    rejectUnauthorized: imap.checkCertificates,
    user,
    auth:
      imap.login === 'master'
        ? { kind: 'master', admin: imap.admin, password: imap.password }
        : { kind: 'authzid', admin: imap.admin, password: imap.password },
    maxConnections: imap.maxConnections,
  };
}
