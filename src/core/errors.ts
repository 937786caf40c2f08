/**
 * The one catalogue of error codes. API errors carry the WorkMail code a client expects in
 * `__type`; export errors carry a code for the job's `ErrorInfo` and the CLI's exit status.
 * A test fails if code throws a code that is not listed here.
 */

export interface ErrorCodeInfo {
  readonly status: number;
  readonly fault: 'client' | 'server';
  readonly description: string;
}

export const API_ERRORS = {
  InvalidParameterException: {
    status: 400,
    fault: 'client',
    description: 'A member is missing, too long, too short, of the wrong type or pattern.',
  },
  OrganizationNotFoundException: {
    status: 400,
    fault: 'client',
    description: 'No organization has this id.',
  },
  OrganizationStateException: {
    status: 400,
    fault: 'client',
    description: 'The organization exists but is not Active (being created or deleted).',
  },
  EntityNotFoundException: {
    status: 400,
    fault: 'client',
    description: 'No user, group or resource of the organization matches the identifier.',
  },
  EntityStateException: {
    status: 400,
    fault: 'client',
    description: 'The entity is in a state that does not allow the operation.',
  },
  EntityAlreadyRegisteredException: {
    status: 400,
    fault: 'client',
    description: 'The user already has a mailbox.',
  },
  EmailAddressInUseException: {
    status: 400,
    fault: 'client',
    description: 'Another entity of the organization already uses the address.',
  },
  MailDomainNotFoundException: {
    status: 400,
    fault: 'client',
    description: "The address's domain is not a domain of the organization.",
  },
  NameAvailabilityException: {
    status: 400,
    fault: 'client',
    description: 'The user name or organization alias is already taken.',
  },
  DirectoryUnavailableException: {
    status: 400,
    fault: 'server',
    description: 'The directory could not be reached.',
  },
  LimitExceededException: {
    status: 400,
    fault: 'client',
    description:
      'Too many running jobs for the organization, or the mailbox was exported less ' +
      'than the configured interval ago.',
  },
  ResourceNotFoundException: {
    status: 400,
    fault: 'client',
    description: 'No export job of the organization has this id.',
  },
  InvalidPasswordException: {
    status: 400,
    fault: 'client',
    description: 'The password does not meet the requirements.',
  },
  UnknownOperationException: {
    status: 400,
    fault: 'client',
    description: 'X-Amz-Target names no operation of this service.',
  },
  SerializationException: {
    status: 400,
    fault: 'client',
    description: 'The body is not a JSON object, or a member has the wrong JSON type.',
  },
  UnsupportedMediaTypeException: {
    status: 415,
    fault: 'client',
    description: 'The content type is not application/x-amz-json-1.1.',
  },
  RequestEntityTooLargeException: {
    status: 413,
    fault: 'client',
    description: 'The body is larger than the configured limit.',
  },
  MissingAuthenticationTokenException: {
    status: 403,
    fault: 'client',
    description: 'The request is not signed.',
  },
  IncompleteSignatureException: {
    status: 403,
    fault: 'client',
    description: 'The Authorization header is malformed or misses a required part.',
  },
  UnrecognizedClientException: {
    status: 403,
    fault: 'client',
    description: 'The access key id is not known to this service.',
  },
  InvalidSignatureException: {
    status: 403,
    fault: 'client',
    description: 'The signature does not match, the scope is wrong, or the clock is skewed.',
  },
  AccessDeniedException: {
    status: 403,
    fault: 'client',
    description: 'The caller may not perform the operation.',
  },
  InternalFailure: {
    status: 500,
    fault: 'server',
    description: 'An unexpected fault of the service; the request id is in the log.',
  },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ApiErrorCode = keyof typeof API_ERRORS;

/** An error that the API front answers as `{"__type": code, "Message": message}`. */
export class ApiError extends Error {
  readonly code: ApiErrorCode;

  constructor(code: ApiErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = code;
    this.code = code;
  }

  get status(): number {
    return API_ERRORS[this.code].status;
  }
}

/**
 * Why an export failed, with the exit status the CLI gives it. The message is written for the
 * person who must fix it: it names the thing (bucket, key, folder, item) and what to check.
 */
export const EXPORT_ERRORS = {
  SourceUnavailable: { exit: 3, description: 'The mail store could not be opened or read.' },
  ItemUnreadable: { exit: 4, description: 'One or more items could not be read.' },
  BucketInvalid: { exit: 5, description: 'The bucket is missing, public, or in another region.' },
  KeyInvalid: { exit: 6, description: 'The key is missing, disabled, or not symmetric.' },
  WriteFailed: { exit: 7, description: 'The object store refused or lost the upload.' },
  AccessDenied: { exit: 8, description: 'The job role may not do what the export needs.' },
  Cancelled: { exit: 9, description: 'The job was cancelled.' },
  Interrupted: { exit: 10, description: 'The node running the job stopped before it ended.' },
  Internal: { exit: 70, description: 'An unexpected fault; the log has the details.' },
} as const;

export type ExportErrorCode = keyof typeof EXPORT_ERRORS;

export class ExportError extends Error {
  readonly code: ExportErrorCode;

  constructor(code: ExportErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ExportError';
    this.code = code;
  }
}

/** The message of an unknown thrown value, for logs and `ErrorInfo`. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
