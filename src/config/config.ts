import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { SCHEMA, type ConfigSchema } from './schema.js';

/**
 * The service's configuration: one JSON file, checked once at start against a strict schema.
 * Unknown keys are errors, every error names its key, every default is documented in
 * `schema.ts`, and the result is frozen.
 */

export interface AccessKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly accountId?: string;
}

export interface RemoteEndpoint {
  readonly endpoint?: string;
  readonly region?: string;
  readonly forcePathStyle?: boolean;
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
}

export interface MailServer {
  readonly name: string;
  readonly imap: {
    readonly host: string;
    readonly port: number;
    readonly tls: 'implicit' | 'starttls' | 'none';
    readonly caFile?: string;
    readonly checkCertificates: boolean;
    readonly login: 'master' | 'authzid';
    readonly admin: string;
    readonly password: string;
    readonly maxConnections: number;
  };
  readonly caldav?: {
    readonly url: string;
    readonly admin: string;
    readonly password: string;
    readonly principal?: string;
  };
}

export interface Config {
  readonly dataDir: string;
  readonly region: string;
  readonly accountId: string;
  readonly server: {
    readonly host: string;
    readonly port: number;
    readonly bodyLimitBytes: number;
    readonly headersTimeoutMs: number;
    readonly requestTimeoutMs: number;
  };
  readonly accessKeys: readonly AccessKey[];
  readonly jobs: {
    readonly workers: number;
    readonly maxRunningPerOrganization: number;
    readonly mailboxIntervalSeconds: number;
    readonly leaseSeconds: number;
    readonly badItemLimit: number;
    readonly compression: 'store' | 'fast' | 'default';
  };
  readonly mailServers: readonly MailServer[];
  readonly defaultMailServer?: string;
  /** Set to write exports to an S3 API instead of the embedded buckets. */
  readonly s3?: RemoteEndpoint & { readonly clientSideEncryption?: boolean };
  /** Set to use a KMS API instead of the embedded keys. */
  readonly kms?: RemoteEndpoint;
  /** Set to assume each job's role with STS before touching S3 and KMS. */
  readonly sts?: RemoteEndpoint & { readonly externalId?: string };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function check(schema: ConfigSchema, value: Json | undefined, path: string): unknown {
  if (value === undefined) {
    if (schema.optional) return undefined;
    if (!('default' in schema)) throw new ConfigError(`${path} is required: ${schema.doc}`);
    // An object's default is checked like a given value, so that its members get theirs.
    if (schema.type !== 'object') return schema.default;
    return check(schema, schema.default as Json, path);
  }

  switch (schema.type) {
    case 'string':
      if (typeof value !== 'string' || value.length === 0) {
        throw new ConfigError(`${path} must be a non-empty string: ${schema.doc}`);
      }
      if (schema.oneOf && !schema.oneOf.includes(value)) {
        throw new ConfigError(`${path} must be one of ${schema.oneOf.join(', ')}`);
      }
      return value;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < schema.min) {
        throw new ConfigError(`${path} must be an integer of at least ${schema.min}`);
      }
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') throw new ConfigError(`${path} must be true or false`);
      return value;
    case 'list':
      if (!Array.isArray(value)) throw new ConfigError(`${path} must be a list`);
      return Object.freeze(value.map((entry, i) => check(schema.items, entry, `${path}[${i}]`)));
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new ConfigError(`${path} must be an object`);
      }
      for (const key of Object.keys(value)) {
        if (!(key in schema.members)) {
          const known = Object.keys(schema.members).join(', ');
          throw new ConfigError(`${path}.${key} is not a known setting (known: ${known})`);
        }
      }
      const result: Record<string, unknown> = {};
      for (const [key, member] of Object.entries(schema.members)) {
        const checked = check(member, value[key], `${path}.${key}`);
        if (checked !== undefined) result[key] = checked;
      }
      return Object.freeze(result);
    }
  }
}

/** Checks a parsed configuration; `overrides` (from the command line) win over the file. */
export function parseConfig(raw: unknown, overrides: { dataDir?: string } = {}): Config {
  const merged = { ...(raw as Record<string, Json>) };
  if (overrides.dataDir !== undefined) merged.dataDir = overrides.dataDir;

  const config = check(SCHEMA, merged, 'config') as Config;
  const names = config.mailServers.map((server) => server.name);
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice !== undefined) throw new ConfigError(`config.mailServers names ${twice} twice`);
  if (config.defaultMailServer !== undefined && !names.includes(config.defaultMailServer)) {
    throw new ConfigError(
      `config.defaultMailServer names ${config.defaultMailServer}, which is not in mailServers`,
    );
  }
  return Object.freeze({ ...config, dataDir: resolve(config.dataDir) });
}

/** Reads the configuration file, or the defaults when no file is given. */
export function loadConfig(file: string | undefined, overrides: { dataDir?: string } = {}): Config {
  if (file === undefined) return parseConfig({}, overrides);

  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(
      `cannot read the configuration file ${file}: ${(error as Error).message}`,
    );
  }

  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  return parseConfig(raw, overrides);
}
