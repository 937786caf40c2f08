import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { it } from 'node:test';

const here = fileURLToPath(import.meta.url);
const fixture = join(dirname(here), 'fixtures', `big-object${extname(here)}`);
const GIB = 1024 * 1024 * 1024;

/** The loader flags this process runs with (tsx's when run from source), for the child. */
function loaderArgs(): string[] {
  const args: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (['--require', '--import', '--loader', '--experimental-loader'].includes(arg)) {
      args.push(arg, argv[i + 1] as string);
      i += 1;
    } else if (/^--(require|import|loader|experimental-loader)=/.test(arg)) {
      args.push(arg);
    }
  }

  return args;
}

it('puts and gets a 1 GiB stream with bounded memory, in a child process', async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [...loaderArgs(), fixture, String(GIB)],
    { maxBuffer: 1024 * 1024 },
  );
  const result = JSON.parse(stdout.trim().split('\n').pop() as string);
  console.log(`1 GiB through the embedded store: ${JSON.stringify(result)}`);

  assert.equal(result.sent, GIB);
  assert.equal(result.stored, GIB);
  assert.equal(result.received, GIB);
  assert.equal(result.receivedSha256, result.sentSha256);

  // Generous on purpose: a copy of the object in memory would need more than 1 GiB; the stream
  // holds a few frames, and the rest is the runtime's own (about 60 MB) and its GC's slack.
  assert.ok(result.maxRssBytes < 250 * 1024 * 1024, `peak RSS ${result.maxRssBytes} bytes`);
});
