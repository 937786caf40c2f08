import { pino } from 'pino';

import { createApiServer, type ApiServer } from '../../api/index.js';
import { openApp } from '../../app/app.js';
import { loadConfig } from '../../config/config.js';
import { createLogger } from '../../core/log.js';
import type { JobEvent } from '../../jobs/events.js';
import type { GlobalOptions } from '../main.js';

export interface ServeOptions extends GlobalOptions {
  port?: number;
  host?: string;
}

/**
 * Serves the WorkMail API and runs its export jobs until SIGINT or SIGTERM. On a signal it
 * stops taking requests, lets those in flight end, and stops running jobs at a safe point:
 * they stay RUNNING under this node's lease and the next start resumes them.
 */
export async function runServe(options: ServeOptions): Promise<void> {
  const config = loadConfig(options.config, options.dataDir ? { dataDir: options.dataDir } : {});
  const logger = createLogger({}, pino.destination(1));

  // The job engine starts before the server whose metrics count its bytes.
  const exported: { server?: ApiServer } = {};
  const onJobEvent = (event: JobEvent) => {
    const jobLog = logger.child({ jobId: event.jobId, organizationId: event.organizationId });
    if (event.type === 'finished') {
      if (event.zipBytes) exported.server?.metrics.bytesExported.inc(event.zipBytes);
      jobLog.info({ state: event.state, errorInfo: event.errorInfo }, 'export job ended');
    } else if (event.type !== 'progress') {
      jobLog.info({ event: event.type }, 'export job event');
    }
  };
  const app = await openApp(config, { logger, onJobEvent });

  const server = createApiServer({
    store: app.store,
    engine: app.engine,
    mailboxes: app.mailboxes,
    credentials: app.accessKeys,
    region: config.region,
    accountId: config.accountId,
    limits: {
      bodyBytes: config.server.bodyLimitBytes,
      headersTimeoutMs: config.server.headersTimeoutMs,
      requestTimeoutMs: config.server.requestTimeoutMs,
    },
    logger,
    defaultBinding: app.defaultBinding,
  });
  const url = await server.listen(
    options.port ?? config.server.port,
    options.host ?? config.server.host,
  );
  exported.server = server;
  logger.info({ url, dataDir: config.dataDir, region: config.region }, 'serving the WorkMail API');
  process.stderr.write(`mailbox-export: serving ${url} (data in ${config.dataDir})\n`);

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'stopping');
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });

  await server.close();
  await app.close();
}
