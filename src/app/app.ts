import { randomUUID } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

import type { MailboxHooks } from '../api/context.js';
import type { Config } from '../config/config.js';
import type { Compression } from '../core/export.js';
import { silentLogger, type Logger } from '../core/log.js';
import type { MailboxBinding } from '../core/model.js';
import { runExport } from '../export/pipeline.js';
import { ExportJobEngine } from '../jobs/engine.js';
import type { JobEvent } from '../jobs/events.js';
import { SqliteJobStore } from '../jobs/sqlite-store.js';
import { writeFileAtomic } from '../keys/atomic-file.js';
import { LocalKeyService } from '../keys/local-keys.js';
import { FsObjectStore } from '../objectstore/fs-store.js';
import { AppBackends } from './backends.js';
import { loadAccessKeys, type ServiceAccessKey } from './access-keys.js';
import { MailRoot, sourceSizeMb } from './mail-root.js';

/**
 * Everything one node runs, opened from its configuration: the job store, the embedded keys,
 * buckets and mail root under the data folder, the backends, and the job engine. `serve` puts
 * the API in front of it; the CLI commands use it in-process.
 *
 * Data folder layout: `jobs.db` (SQLite), `keys/` (`master.key`, and `keys/<id>.json` per key),
 * `buckets/`, `mail/<organization id>/<user id>/`, `credentials.json` (API access keys made on
 * first run), `node-id` (this node's name in job leases, kept so a restart resumes its jobs at
 * once).
 */
export interface App {
  readonly config: Config;
  readonly store: SqliteJobStore;
  readonly localKeys: LocalKeyService;
  readonly buckets: FsObjectStore;
  readonly mailRoot: MailRoot;
  readonly backends: AppBackends;
  readonly engine: ExportJobEngine;
  readonly mailboxes: MailboxHooks;
  readonly accessKeys: readonly ServiceAccessKey[];
  /** Where a new organization's mailboxes live. */
  readonly defaultBinding: MailboxBinding;
  close(): Promise<void>;
}

export interface OpenAppOptions {
  readonly logger?: Logger;
  /** Receives every job event (the CLI draws its progress from them). */
  readonly onJobEvent?: (event: JobEvent) => void;
  /** Take over jobs left RUNNING by an earlier run (default true; the CLI's one-shot export too). */
  readonly recover?: boolean;
  /**
   * Added to the node's name in job leases. A one-shot CLI export names itself apart from a
   * `serve` on the same data folder, so that neither takes the other's jobs as its own.
   */
  readonly nodeSuffix?: string;
  /** Least time between two progress events of one job (default 250 ms). */
  readonly progressEventMs?: number;
  /** Compression of this process's exports, instead of `jobs.compression`. */
  readonly compression?: Compression;
}

export async function openApp(config: Config, options: OpenAppOptions = {}): Promise<App> {
  const logger = options.logger ?? silentLogger;
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });

  const store = new SqliteJobStore({ path: join(config.dataDir, 'jobs.db') });
  const localKeys = new LocalKeyService(join(config.dataDir, 'keys'));
  const buckets = new FsObjectStore(join(config.dataDir, 'buckets'), localKeys);
  const mailRoot = new MailRoot(join(config.dataDir, 'mail'));
  const backends = new AppBackends({ config, mailRoot, localKeys, localObjects: buckets, logger });

  const engine = new ExportJobEngine({
    store,
    backends,
    runExport,
    limits: {
      maxRunningPerOrganization: config.jobs.maxRunningPerOrganization,
      mailboxIntervalSeconds: config.jobs.mailboxIntervalSeconds,
    },
    workers: config.jobs.workers,
    nodeId: (await nodeId(config.dataDir)) + (options.nodeSuffix ?? ''),
    leaseSeconds: config.jobs.leaseSeconds,
    badItemLimit: config.jobs.badItemLimit,
    compression: options.compression ?? config.jobs.compression,
    logger,
    ...(options.onJobEvent ? { onEvent: options.onJobEvent } : {}),
    ...(options.progressEventMs !== undefined && { progressEventMs: options.progressEventMs }),
  });

  try {
    if (options.recover ?? true) {
      // Before any job resumes: a put cut short by a crash leaves its temporary file behind.
      // Not fatal: a bucket folder that cannot be read fails the jobs writing to it, saying why.
      const removed = await buckets.removeLeftovers().catch((err: unknown) => {
        logger.warn({ err }, 'temporary files of stopped processes not removed');
        return [];
      });
      if (removed.length > 0) {
        logger.info({ files: removed }, 'temporary files of stopped processes removed');
      }
      await engine.recover();
    }
  } catch (error) {
    await engine.close();
    await store.close();
    throw error;
  }

  const mailboxes: MailboxHooks = {
    async create(organization, user) {
      if (organization.binding.kind === 'embedded') await mailRoot.create(organization, user);
    },
    async sizeMb(organization, user) {
      if (organization.binding.kind === 'embedded') return mailRoot.sizeMb(organization, user);
      const signal = AbortSignal.timeout(120_000);
      const source = await backends.openSource(organization, user, signal);
      try {
        return await sourceSizeMb(source, signal);
      } finally {
        await source.close();
      }
    },
  };

  const defaultBinding: MailboxBinding = config.defaultMailServer
    ? { kind: 'remote', imap: config.defaultMailServer }
    : { kind: 'embedded' };

  return {
    config,
    store,
    localKeys,
    buckets,
    mailRoot,
    backends,
    engine,
    mailboxes,
    accessKeys: await loadAccessKeys(config),
    defaultBinding,
    async close() {
      await engine.close();
      await store.close();
    },
  };
}

/** This node's lasting name: made once, kept in the data folder. */
async function nodeId(dataDir: string): Promise<string> {
  const file = join(dataDir, 'node-id');
  try {
    const id = (await readFile(file, 'utf8')).trim();
    if (id) return id;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }

  const id = `${hostname()}-${randomUUID().slice(0, 8)}`;
  await writeFileAtomic(file, Buffer.from(`${id}\n`), 0o644);
  return id;
}
