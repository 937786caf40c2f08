import type { Operation } from '../context.js';
import type { OperationName } from '../generated/operations.js';
import { cancelMailboxExportJob } from './cancel-mailbox-export-job.js';
import { createOrganization } from './create-organization.js';
import { createUser } from './create-user.js';
import { deleteOrganization } from './delete-organization.js';
import { describeMailboxExportJob } from './describe-mailbox-export-job.js';
import { describeOrganization } from './describe-organization.js';
import { describeUser } from './describe-user.js';
import { getMailboxDetails } from './get-mailbox-details.js';
import { listMailboxExportJobs } from './list-mailbox-export-jobs.js';
import { listOrganizations } from './list-organizations.js';
import { listUsers } from './list-users.js';
import { registerToWorkMail } from './register-to-workmail.js';
import { startMailboxExportJob } from './start-mailbox-export-job.js';

/** Every operation of the model and its handler; the type makes a missing one an error. */
export const OPERATION_HANDLERS: { readonly [N in OperationName]: Operation<N> } = Object.freeze({
  CancelMailboxExportJob: cancelMailboxExportJob,
  CreateOrganization: createOrganization,
  CreateUser: createUser,
  DeleteOrganization: deleteOrganization,
  DescribeMailboxExportJob: describeMailboxExportJob,
  DescribeOrganization: describeOrganization,
  DescribeUser: describeUser,
  GetMailboxDetails: getMailboxDetails,
  ListMailboxExportJobs: listMailboxExportJobs,
  ListOrganizations: listOrganizations,
  ListUsers: listUsers,
  RegisterToWorkMail: registerToWorkMail,
  StartMailboxExportJob: startMailboxExportJob,
});
