import { UsageError } from './usage-error.js';

export interface S3Location {
  readonly bucket: string;
  readonly key: string;
}

/** Reads `s3://bucket/key`, the form of a job's `S3Path`. */
export function parseS3Path(path: string): S3Location {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(path);
  if (!match) throw new UsageError(`${path} is not of the form s3://bucket/key`);
  return { bucket: match[1]!, key: match[2]! };
}

/** The export log's key or file name beside a zip's: `<job>.zip` → `<job>.export-log.json`. */
export function logPathBeside(zipPath: string): string {
  if (!zipPath.endsWith('.zip')) {
    throw new UsageError(`${zipPath} does not end in .zip: name its export log too.`);
  }
  return `${zipPath.slice(0, -'.zip'.length)}.export-log.json`;
}
