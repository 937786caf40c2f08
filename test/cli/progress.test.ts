import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { JobWatch } from '../../src/cli/commands/export.js';
import { createProgressDisplay, type ProgressMode } from '../../src/cli/progress.js';
import type { ExportProgress } from '../../src/core/export.js';
import type { ExportJob, JobState } from '../../src/core/model.js';

/** What a display writes, as a terminal of `columns` or a log (no columns) would get it. */
function output(columns?: number) {
  const written: string[] = [];
  return {
    written,
    columns,
    write(text: string) {
      written.push(text);
      return true;
    },
  };
}

/** The lines a terminal shows: what each `\r` redraws, without the erase-to-end sequence. */
function drawn(written: readonly string[]): string[] {
  return written
    .join('')
    .split(/[\r\n]/)
    .map((line) => line.replace('\x1b[K', ''))
    .filter((line) => line !== '');
}

/** A large export near its end: 204,000 of 204,320 items, 452 of 456.7 GB read. */
const NEAR_THE_END: ExportProgress = {
  foldersDone: 1990,
  foldersTotal: 2000,
  itemsDone: 204_000,
  itemsTotal: 204_320,
  bytesDone: 452_000_000_000,
  bytesTotal: 456_700_000_000,
  zipBytes: 400_000_000_000,
};

/** The demo's export as the engine last reported it: at 99%, three items short. */
const THREE_SHORT: ExportProgress = {
  foldersDone: 10,
  foldersTotal: 10,
  itemsDone: 446,
  itemsTotal: 449,
  bytesDone: 1_790_000,
  bytesTotal: 1_800_000,
  zipBytes: 800_000,
};

function watchedJob(mode: ProgressMode, state: JobState, columns?: number): string[] {
  const out = output(columns);
  const watch = new JobWatch(createProgressDisplay(mode, out));
  watch.listener({
    type: 'progress',
    jobId: 'job-1',
    organizationId: 'm-1',
    estimatedProgress: 99,
    progress: THREE_SHORT,
  });
  watch.finish({ jobId: 'job-1', state } as ExportJob);
  return drawn(out.written);
}

describe('the progress display', () => {
  it('ends a completed job on a line at 100% with every item counted', () => {
    const lines = watchedJob('lines', 'COMPLETED');
    assert.match(lines.at(-1)!, /^progress: 100% 449\/449 items, 0:00 left, /);
  });

  it('leaves the full bar on screen when the job completes', () => {
    const lines = watchedJob('bar', 'COMPLETED', 120);
    assert.match(lines.at(-1)!, /^\[#{28}\] 100% 449\/449 items, 0:00 left, /);
  });

  it('shows no 100% for a job that failed or was cancelled', () => {
    for (const state of ['FAILED', 'CANCELLED'] as const) {
      for (const line of watchedJob('lines', state)) assert.doesNotMatch(line, /100%/);
      for (const line of watchedJob('bar', state, 120)) assert.doesNotMatch(line, /100%/);
    }
  });

  it('keeps the percentage, the counts and the time left on an 80-column terminal', () => {
    const out = output(80);
    const display = createProgressDisplay('bar', out);
    display.update(NEAR_THE_END);
    display.complete();

    const [running, done] = drawn(out.written);
    assert.ok(running!.length <= 79, `${running!.length} columns: ${running}`);
    assert.match(running!, /^\[#+-*\] {2}98% 204000\/204320 items, \d+:\d\d left/);
    assert.ok(done!.length <= 79, `${done!.length} columns: ${done}`);
    assert.match(done!, /^\[#{28}\] 100% 204320\/204320 items, 0:00 left/);
  });

  it('adds the bytes and the rate where the terminal is wide enough', () => {
    const out = output(120);
    createProgressDisplay('bar', out).update(NEAR_THE_END);

    const [line] = drawn(out.written);
    assert.match(line!, /98% 204000\/204320 items, \d+:\d\d left, 452\.0 GB\/456\.7 GB, .+\/s$/);
    assert.ok(line!.length <= 119);
  });

  it('narrows the bar before it drops the time left, on a very narrow terminal', () => {
    const out = output(50);
    createProgressDisplay('bar', out).update(NEAR_THE_END);

    const [line] = drawn(out.written);
    assert.ok(line!.length <= 49, `${line!.length} columns: ${line}`);
    assert.match(line!, /^\[#+-*\] {2}98% 204000\/204320 items, \d+:\d\d left$/);
  });
});
