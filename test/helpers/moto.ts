import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The moto server (S3, KMS, STS, IAM) on a free port of 127.0.0.1, started for one test file
 * and stopped by its PID. Its output goes to a log file that `stop` removes and a failed start
 * prints.
 */
export interface Moto {
  readonly endpoint: string;
  readonly pid: number;
  /** Forgets every bucket, key and role (`POST /moto-api/reset`). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** The credentials moto accepts; any would do, these name its default account's user. */
export const MOTO_CREDENTIALS = Object.freeze({
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
});

/** The account moto puts every resource in. */
export const MOTO_ACCOUNT = '123456789012';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

export async function startMoto(): Promise<Moto> {
  const folder = await mkdtemp(join(tmpdir(), 'mbx-'));
  const logPath = join(folder, 'moto.log');
  const log = createWriteStream(logPath);
  await new Promise((resolve) => log.once('open', resolve));

  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', log, log],
    env: { ...process.env, MOTO_ALLOW_NONEXISTENT_REGION: 'false' },
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });

  const stop = async () => {
    await stopChild(child, () => exited);
    log.close();
    await rm(folder, { recursive: true, force: true });
  };

  try {
    await waitUntilAnswering(endpoint, () => exited);
  } catch (error) {
    const output = await readFile(logPath, 'utf8').catch(() => '');
    await stop();
    throw new Error(`moto did not start on ${endpoint}: ${(error as Error).message}\n${output}`, {
      cause: error,
    });
  }

  return {
    endpoint,
    pid: child.pid as number,
    async reset() {
      const answer = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (!answer.ok) throw new Error(`moto reset answered ${answer.status}`);
    },
    stop,
  };
}

async function waitUntilAnswering(endpoint: string, exited: () => boolean): Promise<void> {
  // A deadline for a server that never comes up, not a measure of anything.
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (exited()) throw new Error('the process exited');
    try {
      const answer = await fetch(`${endpoint}/moto-api/`);
      await answer.arrayBuffer();
      if (answer.ok) return;
    } catch {
      // Not listening yet.
    }

    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  throw new Error('no answer within 60 s');
}

async function stopChild(child: ChildProcess, exited: () => boolean): Promise<void> {
  if (exited() || child.pid === undefined) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (!exited() && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  }, 5000);
  await gone;
  clearTimeout(timer);
}
