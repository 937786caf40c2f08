import { Counter, Gauge, Histogram, Registry } from 'prom-client';

import type { JobStore } from '../core/job-store.js';
import { JOB_STATES, type JobState } from '../core/model.js';

/**
 * The service's Prometheus metrics, in a registry of their own so that several servers (tests,
 * embedded use) never share counters. The job engine counts exported bytes on
 * `bytesExported`; the API front times requests; the jobs gauge is read from the job store
 * at each scrape.
 */

export type JobCounter = () => Promise<Readonly<Record<JobState, number>>>;

export interface ServiceMetrics {
  readonly registry: Registry;
  /** Bytes of zip written to object stores by finished and running jobs. */
  readonly bytesExported: Counter;
  readonly requestDuration: Histogram<'operation' | 'status'>;
  readonly jobs: Gauge<'state'>;
}

export interface ServiceMetricsOptions {
  /** Feeds the jobs gauge at each scrape; without it the gauge stays empty. */
  readonly countJobs?: JobCounter;
}

export function createServiceMetrics(options: ServiceMetricsOptions = {}): ServiceMetrics {
  const registry = new Registry();
  const countJobs = options.countJobs;

  const jobs = new Gauge({
    name: 'mailbox_export_jobs',
    help: 'Export jobs by state, among the jobs of the listing window (7 days).',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      if (!countJobs) return;
      // A store that cannot be read leaves the last values: a scrape must still answer.
      const counts = await countJobs().catch(() => undefined);
      if (!counts) return;
      for (const state of JOB_STATES) this.set({ state }, counts[state]);
    },
  });

  const bytesExported = new Counter({
    name: 'mailbox_export_exported_bytes_total',
    help: 'Bytes of zip written by export jobs.',
    registers: [registry],
  });

  const requestDuration = new Histogram({
    name: 'mailbox_export_api_request_duration_seconds',
    help: 'Time to answer a WorkMail API request, by operation and HTTP status.',
    labelNames: ['operation', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  return { registry, bytesExported, requestDuration, jobs };
}

/**
 * Counts jobs by reading the store the way `ListMailboxExportJobs` does: every organization's
 * jobs of the last `windowDays` days, page by page. The store has no count query, so a scrape
 * costs one read per 100 jobs.
 */
export function storeJobCounter(
  store: JobStore,
  now: () => Date = () => new Date(),
  windowDays = 7,
): JobCounter {
  return async () => {
    const counts: Record<JobState, number> = { RUNNING: 0, COMPLETED: 0, FAILED: 0, CANCELLED: 0 };
    const since = new Date(now().getTime() - windowDays * 86_400_000);
    for (const organization of await store.listOrganizations()) {
      let nextToken: string | undefined;
      do {
        const page = await store.listJobs(organization.organizationId, since, {
          maxResults: 100,
          nextToken,
        });
        for (const job of page.jobs) counts[job.state]++;
        nextToken = page.nextToken;
      } while (nextToken !== undefined);
    }
    return counts;
  };
}
