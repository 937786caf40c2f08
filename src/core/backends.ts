import type { KeyService } from './key-service.js';
import type { ExportJob, Organization, User } from './model.js';
import type { ObjectStore } from './object-store.js';
import type { MailboxSource } from './source.js';

/**
 * The concrete parts one export job works with. The job engine asks for them per job because
 * the object store and key service act with the job's role (temporary credentials on AWS,
 * a local role on the embedded defaults), and the source depends on the organization's
 * mailbox binding.
 */
export interface JobBackends {
  readonly source: MailboxSource;
  readonly objectStore: ObjectStore;
  readonly keyService: KeyService;
  /** Releases connections and credentials; called once, whatever the job's outcome. */
  close(): Promise<void>;
}

export interface Backends {
  forJob(
    organization: Organization,
    user: User,
    job: ExportJob,
    signal: AbortSignal,
  ): Promise<JobBackends>;
}
