import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths that may carry credentials or signatures. Redacted by configuration so that no call
 * site has to remember to leave them out.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-amz-security-token"]',
  'headers.authorization',
  'authorization',
  'signature',
  'secretAccessKey',
  'sessionToken',
  '*.secretAccessKey',
  '*.sessionToken',
  '*.password',
  'password',
];

export function createLogger(options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const settings = {
    level: process.env.LOG_LEVEL ?? 'info',
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    ...options,
  };
  return destination ? pino(settings, destination) : pino(settings);
}

/** A logger that drops everything: the default for library code and tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
